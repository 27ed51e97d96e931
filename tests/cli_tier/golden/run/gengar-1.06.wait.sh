# host: gengar-1
# command: sh -s
# stdin:
docker wait 10.16.0.1
