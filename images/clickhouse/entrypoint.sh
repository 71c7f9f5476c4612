#!/bin/sh
# Give the configured user its password (the official image reads the same variables), then
# run the server in the foreground. When a user is configured, the package's passwordless
# `default` user is removed (as the official image does), so no one on the network gets in
# without the credential only database-service holds.
set -eu
user="${CLICKHOUSE_USER:-default}"
password="${CLICKHOUSE_PASSWORD:-}"
remove_default=""
if [ "$user" != "default" ]; then
    remove_default='<default remove="remove"/>'
fi
cat > /etc/clickhouse-server/users.d/platform.xml <<XML
<?xml version="1.0"?>
<yandex>
    <users>
        ${remove_default}
        <${user}>
            <password>${password}</password>
            <networks><ip>::/0</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </${user}>
    </users>
</yandex>
XML
exec clickhouse-server --config-file=/etc/clickhouse-server/config.xml
