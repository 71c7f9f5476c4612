"""HTTP surface of the gateway: dependencies and routers."""
