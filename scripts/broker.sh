#!/usr/bin/env bash
# Provides the RabbitMQ broker the tests use (sourced by scripts/test.sh; runnable alone):
#   1. the broker of OPENCTI_MOCK_AMQP_URL (default the local one, guest/guest) if it answers;
#   2. else the local rabbitmq-server, started if it is installed;
#   3. else, with a Docker engine, a RabbitMQ 4.x container (the image the platform's own
#      testcontainers fallback pins);
#   4. else, as root on Debian, rabbitmq-server installed from Debian's packages;
#   5. else a message saying what to do.
# The rabbitmq_management plugin is enabled when it is off (Debian's broker ships it
# disabled): the platform reads queue figures and purges through it.
set -euo pipefail

BROKER_IMAGE="rabbitmq:4.1.4-management"
BROKER_CONTAINER="opencti-mock-rabbitmq"

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() {
    local host=$1 port=$2 what=$3 i
    for i in $(seq 1 120); do
        port_open "$host" "$port" && return 0
        sleep 1
    done
    echo "error: $what did not open $host:$port within 120 s" >&2
    return 1
}

enable_management() {
    if command -v rabbitmq-plugins >/dev/null 2>&1 && [ -z "${OPENCTI_MOCK_RABBITMQCTL:-}" ]; then
        if ! rabbitmq-plugins list -e -m 2>/dev/null | grep -qx rabbitmq_management; then
            echo "broker: enabling the rabbitmq_management plugin"
            rabbitmq-plugins enable rabbitmq_management >/dev/null
        fi
    fi
    wait_port 127.0.0.1 15672 "the RabbitMQ management API"
}

ensure_broker() {
    local url="${OPENCTI_MOCK_AMQP_URL:-}"
    if [ -n "$url" ]; then
        echo "broker: using OPENCTI_MOCK_AMQP_URL (not checked here)"
        return 0
    fi
    if port_open 127.0.0.1 5672; then
        echo "broker: the local RabbitMQ answers on 127.0.0.1:5672"
    elif command -v rabbitmq-server >/dev/null 2>&1; then
        echo "broker: starting the installed rabbitmq-server"
        rabbitmq-server -detached
        wait_port 127.0.0.1 5672 "rabbitmq-server"
    elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
        echo "broker: starting $BROKER_IMAGE in container $BROKER_CONTAINER"
        docker rm -f "$BROKER_CONTAINER" >/dev/null 2>&1 || true
        docker run -d --name "$BROKER_CONTAINER" -p 5672:5672 -p 15672:15672 "$BROKER_IMAGE" >/dev/null
        export OPENCTI_MOCK_RABBITMQCTL="docker exec $BROKER_CONTAINER rabbitmqctl"
        wait_port 127.0.0.1 5672 "the RabbitMQ container"
    elif [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; then
        echo "broker: installing rabbitmq-server from Debian's packages"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
        rabbitmq-server -detached || true
        wait_port 127.0.0.1 5672 "rabbitmq-server"
    else
        cat >&2 <<'MSG'
error: the AMQP tests need a RabbitMQ broker and none could be provided.
  - start one on 127.0.0.1:5672 (guest/guest) with the management plugin, or
  - set OPENCTI_MOCK_AMQP_URL=amqp://user:pass@host:port/vhost, or
  - install rabbitmq-server (Debian: apt-get install rabbitmq-server), or a Docker engine.
MSG
        return 1
    fi
    enable_management
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    ensure_broker
fi
