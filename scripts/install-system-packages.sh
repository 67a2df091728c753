#!/bin/sh
# Installs the Debian packages cdfss builds against, when any is missing.
set -eu
packages="libfftw3-dev libopenblas-dev libpng-dev libtiff-dev libjpeg62-turbo-dev zlib1g-dev pkg-config"
missing=""
for package in $packages; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
else
    echo "error: missing Debian packages:$missing; install them as root (apt-get install$missing)" >&2
    exit 1
fi
echo "installing:$missing" >&2
# A fresh machine has no package lists until apt-get update has run.
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
