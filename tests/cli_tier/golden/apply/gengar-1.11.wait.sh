# host: gengar-1
# command: sh -s
# stdin:
docker wait peer-0
