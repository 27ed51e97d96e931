# host: gengar-1
# command: sh -s
# stdin:
perl -e 'use strict; eval { require IO::Socket::UNIX; 1 } or exit 3;
my $sock = "/var/run/docker.sock";
if (length($ENV{DOCKER_HOST} // "")) {
  $ENV{DOCKER_HOST} =~ m{^unix://(/.+)$} or exit 3; $sock = $1;
}
exit 3 if length($ENV{DOCKER_CONTEXT} // "");
if (open my $f, "<", ($ENV{DOCKER_CONFIG} // "$ENV{HOME}/.docker") . "/config.json") {
  local $/; my $c = <$f> // ""; exit 3 if $c =~ /"currentContext"\s*:\s*"(?!default")/;
}
sub request {
  my $s = IO::Socket::UNIX->new(Peer => $sock) or return undef;
  print $s "$_[0] HTTP/1.0\r\nHost: docker\r\nContent-Length: 0\r\n\r\n";
  return $s;
}
sub answer {
  my $s = shift; local $/; my $r = <$s> // ""; close $s;
  my ($head, $body) = split /\r?\n\r?\n/, $r, 2;
  my ($code) = ($head // "") =~ m{^HTTP/\d\.\d (\d{3})};
  return ($code, $body // "");
}
sub get {
  my $s = request("GET $_[0]") or exit 3;
  my ($code, $body) = answer($s);
  defined $code or exit 4;
  return ($code, $body);
}
my ($status, $list) = get($ARGV[0]);
$status == 200 or exit 4;
my @all;
for my $id ($list =~ /"Id"\s*:\s*"([0-9a-f]{64})"/g) {
  my ($s, $one) = get("/containers/$id/json");
  next if $s == 404;  # removed since it was listed
  $s == 200 or exit 4;
  $one =~ s/\s+\z//; push @all, $one;
}
print "[", join(",", @all), "]\n";
' '/containers/json?all=1&filters=%7B%22label%22%3A%5B%22oar-p2p.experiment%22%5D%7D' 2>/dev/null && exit 0
ids=$(docker ps -aq --no-trunc --filter label=oar-p2p.experiment) || exit 1
if [ -n "$ids" ]; then docker inspect $ids 2>/dev/null || true; else echo "[]"; fi
