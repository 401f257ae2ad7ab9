#!/bin/sh
# dom0 side of demo.sh (run.sh --dom0-script): busybox httpd on dom0's guest network, serving 16 MiB
# of random data (blob) and its md5 (blob.md5) at http://10.0.0.1/ and http://[fd00::1]/.
set -eu
mkdir -p /run/www
dd if=/dev/urandom of=/run/www/blob.tmp bs=1M count=16 2>/dev/null
md5sum </run/www/blob.tmp | cut -d' ' -f1 >/run/www/blob.md5
mv /run/www/blob.tmp /run/www/blob
echo "httpd on $DOM0_IF: http://$DOM0_IP/blob and http://[$DOM0_IP6]/blob (16 MiB), md5 $(cat /run/www/blob.md5)"
exec httpd -f -p 80 -h /run/www
