# host: gengar-2
# command: sh -s
# stdin:
d=$(mktemp -d) || exit 1
trap 'rm -rf "$d"' EXIT
docker logs peer-1 >"$d"/peer-1.stdout 2>"$d"/peer-1.stderr </dev/null || echo 'no logs for peer-1' >&2
tar -C "$d" -czf - .
