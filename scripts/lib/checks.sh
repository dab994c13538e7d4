# Shared by every script that reports checks (check-infra, check-compose-podman, the drills):
# one line per check, then a summary line in the form scripts/test reads ("N passed, M failed").
# Source it, then:
#   pass NAME [DETAIL]            ok    NAME  DETAIL
#   fail NAME [DETAIL [OUTPUT]]   FAIL  NAME  DETAIL, then OUTPUT indented (long output: its
#                                 first and last 20 lines, where the cause usually is)
#   verdict NAME DETAIL TEST...   pass when the command TEST... succeeds (e.g. [ "$n" -eq 0 ]),
#                                 else fail
#   checks_summary PREFIX         "PREFIX: N passed, M failed"; returns 1 if any check failed
# The counts are checks_passed and checks_failed.
checks_passed=0
checks_failed=0

pass() {
    checks_passed=$((checks_passed + 1))
    printf 'ok    %-52s %s\n' "$1" "${2:-}"
}

fail() {
    checks_failed=$((checks_failed + 1))
    printf 'FAIL  %-52s %s\n' "$1" "${2:-}"
    if [[ -n "${3:-}" ]]; then
        local lines
        lines=$(printf '%s\n' "$3" | wc -l)
        if [[ $lines -le 40 ]]; then
            printf '%s\n' "$3" | sed 's/^/      | /'
        else
            { printf '%s\n' "$3" | head -n 20; echo "... ($((lines - 40)) lines left out)"; printf '%s\n' "$3" | tail -n 20; } | sed 's/^/      | /'
        fi
    fi
}

verdict() {
    local name=$1 detail=$2
    shift 2
    if "$@"; then pass "$name" "$detail"; else fail "$name" "$detail"; fi
}

checks_summary() {
    echo "$1: $checks_passed passed, $checks_failed failed"
    [[ $checks_failed -eq 0 ]]
}
