# host: gengar-2
# command: sh -s
# stdin:
docker wait peer-1
