# host: gengar-2
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
my $until = shift @ARGV;
sub wait_all {
  my @s;
  for my $n (@ARGV) {
    (my $p = $n) =~ s/([^A-Za-z0-9_.-])/sprintf("%%%02X", ord $1)/ge;
    push @s, (request("POST /containers/$p/wait") or exit 3);
  }
  my @codes;
  for my $s (@s) {
    my ($code, $body) = answer($s);
    defined $code && $code == 200 or exit 4;
    my ($c) = $body =~ /"StatusCode"\s*:\s*(-?\d+)/ or exit 4;
    push @codes, $c;
  }
  return @codes;
}
while (length $until) {
  wait_all();
  if (open my $f, "<", $until) { local $/; last if (<$f> // "") =~ /^(end|stopped)$/m }
  select(undef, undef, undef, 0.5);
}
print "$_\n" for wait_all();
' '' 10.17.0.1 2>/dev/null && exit 0
docker wait 10.17.0.1
