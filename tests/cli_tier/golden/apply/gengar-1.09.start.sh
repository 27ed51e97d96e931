# host: gengar-1
# command: sh -s
# stdin:
printf '%s\n' peer-0 | xargs -r -P 16 -n 1 docker start >/dev/null
