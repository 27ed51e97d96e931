# host: gengar-2
# command: sh -s
# stdin:
docker wait 10.17.0.1
