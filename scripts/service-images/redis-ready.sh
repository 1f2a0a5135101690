#!/bin/sh
# Health check: true once Redis answers PING with the password.
[ "$(REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -h 127.0.0.1 ping 2>/dev/null)" = PONG ]
