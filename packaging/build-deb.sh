#!/usr/bin/env bash
# Builds Herald's Debian package and release tarball from a self-contained single-file publish:
#
#   packaging/build-deb.sh [RID…]      (default: linux-x64; linux-arm64 also works)
#
# Writes artifacts/packages/herald_VERSION_ARCH.deb and herald-VERSION-RID.tar.gz (the same
# binary, the unit, the settings file and the README, for other distributions). The version
# comes from <Version> in Directory.Build.props; packaging/debian/changelog must start with it.
# Needs the .NET SDK and dpkg-deb, nothing else (no debhelper).
set -euo pipefail
cd "$(dirname "$0")/.."
root_dir=$PWD
out=${HERALD_PACKAGE_OUT:-$root_dir/artifacts/packages}
version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props | head -n1)
[[ -n $version ]] || { echo "build-deb.sh: no <Version> in Directory.Build.props" >&2; exit 1; }
# Debian orders 1.0~rc1 before 1.0; a .NET prerelease is 1.0-rc1.
deb_version=${version//-/\~}
changelog_version=$(sed -n '1s/^herald (\([^)]*\)).*/\1/p' packaging/debian/changelog)
if [[ $changelog_version != "$deb_version" ]]; then
  echo "build-deb.sh: packaging/debian/changelog starts with $changelog_version, the version is $deb_version: add an entry for it" >&2
  exit 1
fi
# Reproducible timestamps: the last commit's time, not the build's.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
mkdir -p "$out"

for rid in "${@:-linux-x64}"; do
  case $rid in
    linux-x64) arch=amd64 machine=x86_64 ;;
    linux-arm64) arch=arm64 machine=aarch64 ;;
    *) echo "build-deb.sh: $rid is not a Linux runtime this script packages (linux-x64, linux-arm64)" >&2; exit 1 ;;
  esac
  # SQLite's library comes with its symbols; Debian ships shared objects stripped, by a strip
  # that knows the target's machine code.
  strip=$machine-linux-gnu-strip
  if ! command -v "$strip" >/dev/null; then
    if [[ $(uname -m) != "$machine" ]]; then
      echo "build-deb.sh: packaging $rid on $(uname -m) needs its strip: apt-get install binutils-${machine//_/-}-linux-gnu" >&2
      exit 1
    fi
    strip=strip
  fi

  publish=$root_dir/artifacts/publish/$rid
  rm -rf "$publish"
  echo "Publishing herald $version for $rid…"
  dotnet publish src/Herald/Herald.csproj -c Release -r "$rid" --self-contained \
    -p:PublishSingleFile=true -p:EnableCompressionInSingleFile=true -p:DebugType=none \
    -o "$publish" -v quiet -nologo

  # The tree the package installs, owned by root (dpkg-deb --root-owner-group).
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' EXIT
  install -d -m 0755 "$stage/DEBIAN" "$stage/usr/bin" "$stage/usr/lib/herald" "$stage/lib/systemd/system" \
    "$stage/etc/herald" "$stage/usr/share/doc/herald/examples" "$stage/usr/share/lintian/overrides"
  # The binary and the native libraries it loads from beside itself (SQLite).
  for file in "$publish"/*; do
    case $(basename "$file") in
      herald) install -m 0755 "$file" "$stage/usr/lib/herald/herald" ;;
      *.so)
        install -m 0644 "$file" "$stage/usr/lib/herald/"
        "$strip" --strip-unneeded --remove-section=.comment "$stage/usr/lib/herald/$(basename "$file")"
        ;;
      # No static web assets (the console's are embedded): the manifest lists none.
      *.staticwebassets.endpoints.json) ;;
      *) echo "build-deb.sh: unexpected file in the publish output: $file" >&2; exit 1 ;;
    esac
  done
  install -m 0755 packaging/herald-command.sh "$stage/usr/bin/herald"
  install -m 0644 packaging/herald.service "$stage/lib/systemd/system/herald.service"
  install -m 0640 packaging/herald.env "$stage/etc/herald/herald.env"
  install -m 0644 packaging/bind-port-25.conf "$stage/usr/share/doc/herald/examples/bind-port-25.conf"
  # The README and the pages it links to, in the same layout, so that its links work here too.
  install -m 0644 README.md "$stage/usr/share/doc/herald/"
  install -d -m 0755 "$stage/usr/share/doc/herald/docs"
  install -m 0644 docs/*.md docs/openapi.json "$stage/usr/share/doc/herald/docs/"
  install -m 0644 packaging/debian/copyright "$stage/usr/share/doc/herald/copyright"
  install -d -m 0755 "$stage/usr/share/man/man1"
  gzip -9n <packaging/herald.1 >"$stage/usr/share/man/man1/herald.1.gz"
  gzip -9n <packaging/debian/changelog >"$stage/usr/share/doc/herald/changelog.gz"
  chmod 0644 "$stage/usr/share/doc/herald/changelog.gz" "$stage/usr/share/man/man1/herald.1.gz"
  install -m 0644 packaging/debian/lintian-overrides "$stage/usr/share/lintian/overrides/herald"
  install -m 0644 packaging/debian/conffiles "$stage/DEBIAN/conffiles"
  install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$stage/DEBIAN/"
  size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
  sed -e "s/@VERSION@/$deb_version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" packaging/debian/control >"$stage/DEBIAN/control"
  (cd "$stage" && find usr lib etc -type f ! -path etc/herald/herald.env -print0 | sort -z | xargs -0 md5sum >DEBIAN/md5sums)
  chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"
  find "$stage" -type d -exec chmod 0755 {} +
  find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

  deb=$out/herald_${deb_version}_${arch}.deb
  dpkg-deb --build --root-owner-group -Zxz "$stage" "$deb" >/dev/null
  echo "Built $deb"

  # The tarball: the same binary, with what an administrator of another distribution needs.
  name=herald-$version-$rid
  tree=$(mktemp -d)
  mkdir "$tree/$name"
  cp "$stage"/usr/lib/herald/* "$tree/$name/"
  cp packaging/herald.service packaging/herald.env packaging/bind-port-25.conf README.md "$tree/$name/"
  mkdir "$tree/$name/docs" && cp docs/*.md docs/openapi.json "$tree/$name/docs/"
  cp packaging/debian/copyright "$tree/$name/COPYRIGHT"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
    -C "$tree" -czf "$out/$name.tar.gz" "$name"
  rm -rf "$tree" "$stage"
  trap - EXIT
  echo "Built $out/$name.tar.gz"
done
