#!/bin/sh
# make deb: build/totpd_VERSION_ARCH.deb from the release build, staged by `make install` with
# Debian's paths. VERSION is TOTPVersion.release (Sources/TOTPCore/TOTPVersion.swift), the one
# place it is written; DEB_VERSION overrides it (the upgrade test builds a higher one).
set -eu

version=${DEB_VERSION:-$(sed -n 's/.*release = "\([^"]*\)".*/\1/p' Sources/TOTPCore/TOTPVersion.swift)}
arch=$(dpkg --print-architecture)
stage=$PWD/build/deb/root
deb=build/totpd_${version}_${arch}.deb
rm -rf "$stage"
mkdir -p "$stage/DEBIAN"

make --no-print-directory install DESTDIR="$stage" PREFIX=/usr SYSCONFDIR=/etc SYSTEMDDIR=/lib/systemd/system \
    DOCDIR=/usr/share/doc/totpd MANDIR=/usr/share/man ZSHDIR=/usr/share/zsh/vendor-completions >/dev/null
doc=$stage/usr/share/doc/totpd
install -m 0644 packaging/copyright "$doc/copyright"
printf 'totpd (%s) unstable; urgency=medium\n\n  * Release %s; the changes are in the project'"'"'s history.\n\n -- %s  %s\n' \
    "$version" "$version" "$(sed -n 's/^Maintainer: //p' packaging/control.in)" \
    "$(date -R -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}")" | gzip -9n > "$doc/changelog.gz"
find "$stage/usr/share/man" -type f -exec gzip -9n {} +
install -D -m 0644 packaging/lintian-overrides "$stage/usr/share/lintian/overrides/totpd"
for script in postinst prerm postrm; do install -m 0755 "packaging/$script" "$stage/DEBIAN/$script"; done
echo /etc/totpd/totpd.conf > "$stage/DEBIAN/conffiles"

# Depends: from the binaries' own library needs, as dpkg-shlibdeps reads them.
shlibs=$(mktemp -d)
mkdir "$shlibs/debian"
printf 'Source: totpd\n\nPackage: totpd\nArchitecture: any\n' > "$shlibs/debian/control"
depends=$(cd "$shlibs" && dpkg-shlibdeps -O "$stage/usr/sbin/totpd" "$stage/usr/bin/totpctl" \
    "$stage"/lib/*/security/pam_totpd.so 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
rm -rf "$shlibs"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@DEPENDS@/$depends/" \
    packaging/control.in > "$stage/DEBIAN/control"

# xz at level 2: a twentieth of the default level's time on the ~150 MB of binaries.
dpkg-deb --root-owner-group -Zxz -z2 --build "$stage" "$deb" >/dev/null
echo "$deb"
