# Shared by scripts/allocs.sh and scripts/instructions.sh: waiting for a server on a
# loopback port, and N requests to it over one keep-alive connection (curl reuses
# its connection across the URLs of one config file).
# Expects PORT and BODY (a file) to be set by the caller; HDR adds one header.

wait_ready() { # wait_ready TRIES: polls /readyz every 0.5 s, TRIES times at most
    for _ in $(seq "$1"); do
        curl -fs -o /dev/null "http://127.0.0.1:$PORT/readyz" && return 0
        sleep 0.5
    done
    return 1
}

post() { # post N: N /predict requests of BODY over one connection
    local cfg
    cfg=$(mktemp)
    for _ in $(seq "$1"); do printf 'url = "http://127.0.0.1:%s/predict"\noutput = "/dev/null"\n' "$PORT"; done >"$cfg"
    curl -s -K "$cfg" -H 'content-type: application/json' ${HDR:+-H "$HDR"} --data-binary "@$BODY"
    rm -f "$cfg"
}
