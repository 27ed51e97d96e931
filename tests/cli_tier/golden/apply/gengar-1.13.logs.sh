# host: gengar-1
# command: sh -s
# stdin:
d=$(mktemp -d) || exit 1
trap 'rm -rf "$d"' EXIT
docker logs peer-0 >"$d"/peer-0.stdout 2>"$d"/peer-0.stderr </dev/null || echo 'no logs for peer-0' >&2
tar -C "$d" -czf - .
