# host: gengar-2
# command: sh -s
# stdin:
printf '%s\n' peer-1 | xargs -r -P 16 -n 1 docker start >/dev/null
