# host: testbed-frontend
# command: oarstat -j 4242 -J
# stdin:
