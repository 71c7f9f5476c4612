-- What an account may do through the gateway (services/README.md, "Roles"). Existing rows become
-- ordinary users; the CHECK keeps any writer, not only this service's API, to the known roles.
ALTER TABLE users
    ADD COLUMN role text NOT NULL DEFAULT 'user'
    CONSTRAINT users_role_check CHECK (role IN ('user', 'admin'));
