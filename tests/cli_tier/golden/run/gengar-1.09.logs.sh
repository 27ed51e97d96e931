# host: gengar-1
# command: sh -s
# stdin:
d=$(mktemp -d) || exit 1
trap 'rm -rf "$d"' EXIT
docker logs 10.16.0.1 >"$d"/10.16.0.1.stdout 2>"$d"/10.16.0.1.stderr </dev/null || echo 'no logs for 10.16.0.1' >&2
tar -C "$d" -czf - .
