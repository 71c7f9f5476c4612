#!/bin/sh
# Give the configured user its password (the official image reads the same variables), then
# run the server in the foreground.
set -eu
user="${CLICKHOUSE_USER:-default}"
password="${CLICKHOUSE_PASSWORD:-}"
cat > /etc/clickhouse-server/users.d/platform.xml <<XML
<?xml version="1.0"?>
<yandex>
    <users>
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
