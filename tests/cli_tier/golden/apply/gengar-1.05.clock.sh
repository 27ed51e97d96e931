# host: gengar-1
# command: while read -r _; do echo ${EPOCHREALTIME:-$(date +%s.%N)}; done
# stdin:
