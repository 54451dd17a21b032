#!/usr/bin/env bash
# Builds the local stand-ins for the three third-party images of the Docker runtime (SPEC §8),
# for machines whose Docker Engine cannot pull (see README.md next to this file):
#
#   waooaw-test/postgres-redis:bookworm  for postgres:15-alpine and redis:7-alpine
#   waooaw-test/opa:static               for openpolicyagent/opa:<pinned>-static
#
# Usage:  eval "$(testdata/images/build.sh)"
#
# Progress goes to stderr; stdout carries only the three `export WAOOAW_IMAGE_…=…` lines, so
# the eval above points the stack (and anything it starts) at the stand-ins. An image that exists and was built from the same
# recipe is kept (a changed recipe, entrypoint or OPA version rebuilds it); FORCE=1 rebuilds
# anyway. Needs: a Docker daemon, root (or sudo) for debootstrap, Go for OPA, a Debian mirror
# (taken from /etc/apt, or DEBIAN_MIRROR) and the Go module proxy.
#
# Knobs: DEBIAN_MIRROR, OPA_VERSION (default: the version pinned in go.mod), FORCE=1.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

PG_IMAGE=waooaw-test/postgres-redis:bookworm
ROOTFS_IMAGE=waooaw-test/postgres-redis-rootfs:bookworm # the imported rootfs; PG_IMAGE's base
OPA_IMAGE=waooaw-test/opa:static
RECIPE_LABEL=dev.waooaw.test.recipe

log() { printf 'images: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

export DOCKER_BUILDKIT=0 # the classic builder: no buildx here, and FROM a local image never pulls

SUDO=()
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null 2>&1 || die "debootstrap needs root: run as root or install sudo"
	SUDO=(sudo)
fi

work=
cleanup() {
	[ -n "$work" ] && [ -d "$work" ] || return 0
	# debootstrap mounts /proc and /sys in the target; never rm -rf across a mount.
	local m
	awk -v d="$work/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
		"${SUDO[@]}" umount -l "$m" || true
	done
	"${SUDO[@]}" rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# recipe_of NAME: the recipe label of an existing image, empty when absent or unlabelled.
recipe_of() {
	docker image inspect -f "{{index .Config.Labels \"$RECIPE_LABEL\"}}" "$1" 2>/dev/null || true
}
# up_to_date NAME HASH: NAME exists and was built from HASH (FORCE=1: never).
up_to_date() {
	[ "${FORCE:-}" != 1 ] && docker image inspect "$1" >/dev/null 2>&1 && [ "$(recipe_of "$1")" = "$2" ]
}
# drop_if_dangling ID: removes a replaced image once nothing tags it any more.
drop_if_dangling() {
	[ -n "$1" ] || return 0
	if [ "$(docker image inspect -f '{{len .RepoTags}}' "$1" 2>/dev/null)" = 0 ]; then
		docker image rm "$1" >/dev/null 2>&1 || true
	fi
}
image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }
hash() { sha256sum | cut -c1-16; }
elapsed() { echo "$((SECONDS - $1))s"; }

# debian_mirror: the machine's Debian archive for bookworm (DEBIAN_MIRROR overrides), from the
# one-line sources.list files or the deb822 .sources files; deb.debian.org when none names one.
debian_mirror() {
	if [ -n "${DEBIAN_MIRROR:-}" ]; then
		echo "$DEBIAN_MIRROR"
		return
	fi
	local f uri=
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		uri=$(awk '$1 == "deb" {
			i = 2; if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
			if ($(i + 1) == "bookworm") { print $i; exit }
		}' "$f")
		[ -n "$uri" ] && break
	done
	if [ -z "$uri" ]; then
		for f in /etc/apt/sources.list.d/*.sources; do
			[ -r "$f" ] || continue
			uri=$(awk 'BEGIN { RS = ""; FS = "\n" }
			{
				types = ""; uris = ""; suites = ""; enabled = "yes"
				for (i = 1; i <= NF; i++) {
					if ($i ~ /^#/ || !match($i, /^[A-Za-z-]+:/)) continue
					k = tolower(substr($i, 1, RLENGTH - 1)); v = substr($i, RLENGTH + 1)
					if (k == "types") types = v; else if (k == "uris") uris = v
					else if (k == "suites") suites = v; else if (k == "enabled") enabled = v
				}
				if ((" " types " ") ~ / deb / && (" " suites " ") ~ / bookworm / && enabled !~ /no/) {
					split(uris, u, " "); print u[1]; exit
				}
			}' "$f")
			[ -n "$uri" ] && break
		done
	fi
	echo "${uri:-http://deb.debian.org/debian}"
}

# make_rootfs DIR MIRROR: a minimal bookworm with PostgreSQL 15 and Redis, trimmed to what the
# two servers and their clients need. (Its text is part of the rootfs recipe hash.)
make_rootfs() {
	local dir=$1 mirror=$2
	if ! "${SUDO[@]}" debootstrap --variant=minbase --include=postgresql-15,redis-server \
		bookworm "$dir" "$mirror" >"$work/debootstrap.log" 2>&1; then
		tail -n 30 "$work/debootstrap.log" >&2
		die "debootstrap failed (whole log above, last 30 lines)"
	fi
	local c=("${SUDO[@]}" chroot "$dir")
	# The cluster Debian's postinst made (ours lives in PGDATA), and what only pg_wrapper's
	# cluster tools need: JIT (LLVM, Z3: ~130 MB; postgres runs without it, jit is then simply
	# unavailable), perl beyond perl-base, and locale sources (C.UTF-8 is built into libc).
	if ! "${c[@]}" dpkg --purge --force-depends libllvm14 libz3-4 perl perl-modules-5.36 libperl5.36 \
		locales >>"$work/debootstrap.log" 2>&1; then
		tail -n 30 "$work/debootstrap.log" >&2
		die "dpkg --purge failed"
	fi
	"${SUDO[@]}" rm -rf "$dir"/usr/lib/postgresql/15/lib/llvmjit* "$dir"/usr/lib/postgresql/15/lib/bitcode \
		"$dir"/var/lib/postgresql/15 "$dir"/etc/postgresql/15 \
		"$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/info/* \
		"$dir"/usr/share/locale/* "$dir"/usr/share/lintian "$dir"/usr/share/postgresql/15/man \
		"$dir"/var/cache/apt/* "$dir"/var/lib/apt/lists/* "$dir"/var/cache/debconf/*-old \
		"$dir"/var/log/* "$dir"/tmp/* "$dir"/dev/*
	"${SUDO[@]}" truncate -s 0 "$dir"/etc/hostname "$dir"/etc/resolv.conf
	# What the official images provide: PGDATA, the init hook folder, Redis's /data.
	"${c[@]}" sh -ec '
		install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data
		install -d -o postgres -g postgres -m 3775 /var/run/postgresql
		install -d -m 0755 /docker-entrypoint-initdb.d
		install -d -o redis -g redis -m 0755 /data
	'
}

build_postgres_redis() {
	local ep=$here/postgres-entrypoint.sh
	[ -r "$ep" ] || die "missing $ep"
	local rootfs_recipe pg_recipe dockerfile
	rootfs_recipe=$(declare -f make_rootfs | hash)
	dockerfile=$(
		cat <<-EOF
			FROM $ROOTFS_IMAGE
			COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
			VOLUME /var/lib/postgresql/data
			EXPOSE 5432 6379
			STOPSIGNAL SIGINT
			ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
			CMD ["postgres"]
		EOF
	)
	pg_recipe=$({ echo "$rootfs_recipe"; cat "$ep"; echo "$dockerfile"; } | hash)
	if up_to_date "$PG_IMAGE" "$pg_recipe"; then
		log "$PG_IMAGE is present and up to date; skipped"
		return
	fi
	local t0=$SECONDS

	if up_to_date "$ROOTFS_IMAGE" "$rootfs_recipe"; then
		log "$ROOTFS_IMAGE is present and up to date; reusing it"
	else
		if ! command -v debootstrap >/dev/null 2>&1 && ! [ -x /usr/sbin/debootstrap ]; then
			log "installing debootstrap with apt"
			"${SUDO[@]}" apt-get install -y --no-install-recommends debootstrap >&2 ||
				{ "${SUDO[@]}" apt-get update >&2 && "${SUDO[@]}" apt-get install -y --no-install-recommends debootstrap >&2; }
		fi
		export PATH=$PATH:/usr/sbin:/sbin
		local mirror dir=$work/rootfs
		mirror=$(debian_mirror)
		log "debootstrap --variant=minbase --include=postgresql-15,redis-server bookworm from $mirror"
		make_rootfs "$dir" "$mirror"
		log "rootfs ready ($(elapsed "$t0")): $("${SUDO[@]}" du -sh "$dir" | cut -f1); importing it as $ROOTFS_IMAGE"
		local old
		old=$(image_id "$ROOTFS_IMAGE")
		"${SUDO[@]}" tar --numeric-owner -C "$dir" -c . |
			docker import \
				--change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
				--change 'ENV LANG=C.UTF-8' \
				--change 'ENV PG_MAJOR=15' \
				--change 'ENV PGDATA=/var/lib/postgresql/data' \
				--change "LABEL $RECIPE_LABEL=$rootfs_recipe" \
				--change 'CMD ["bash"]' \
				- "$ROOTFS_IMAGE" >/dev/null
		drop_if_dangling "$old"
		"${SUDO[@]}" rm -rf --one-file-system "$dir"
	fi

	log "adding the entrypoint layer: $PG_IMAGE"
	local ctx=$work/pg-context old
	mkdir -p "$ctx"
	cp "$ep" "$ctx/postgres-entrypoint.sh"
	chmod 0755 "$ctx/postgres-entrypoint.sh"
	printf '%s\nLABEL %s=%s\n' "$dockerfile" "$RECIPE_LABEL" "$pg_recipe" >"$ctx/Dockerfile"
	old=$(image_id "$PG_IMAGE")
	docker build -q -t "$PG_IMAGE" "$ctx" >&2
	drop_if_dangling "$old"
	log "$PG_IMAGE built in $(elapsed "$t0")"
}

# build_opa VERSION: the real OPA, statically linked, in a scratch image laid out like the
# official -static one (/opa, uid 1000, /tmp, CA certificates, passwd with nonroot).
build_opa() {
	local version=$1 t0=$SECONDS
	local go
	go=$(command -v go || echo /usr/local/go/bin/go)
	[ -x "$go" ] || die "Go is needed to build OPA (not on PATH, not in /usr/local/go/bin)"
	local mod=$work/opa-module ctx=$work/opa-context
	mkdir -p "$mod" "$ctx/rootfs/etc/ssl/certs" "$ctx/rootfs/tmp"
	log "building OPA $version from its Go module (CGO_ENABLED=0)"
	(
		cd "$mod"
		export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0
		if ! { "$go" mod init waooaw-test/opa-image && "$go" get "github.com/open-policy-agent/opa@$version"; } >"$work/go-get.log" 2>&1; then
			cat "$work/go-get.log" >&2
			exit 1
		fi
		"$go" build -trimpath -ldflags='-s -w' -o "$ctx/opa" github.com/open-policy-agent/opa >&2
	)
	"$ctx/opa" version >&2
	chmod 1777 "$ctx/rootfs/tmp"
	printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$ctx/rootfs/etc/passwd"
	printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$ctx/rootfs/etc/group"
	if [ -r /etc/ssl/certs/ca-certificates.crt ]; then
		cp /etc/ssl/certs/ca-certificates.crt "$ctx/rootfs/etc/ssl/certs/"
	fi
	cat >"$ctx/Dockerfile" <<-EOF
		FROM scratch
		COPY rootfs/ /
		COPY opa /opa
		ENV PATH=/
		USER 1000:1000
		ENTRYPOINT ["/opa"]
		CMD ["run"]
		LABEL $RECIPE_LABEL=$2
	EOF
	local old
	old=$(image_id "$OPA_IMAGE")
	docker build -q -t "$OPA_IMAGE" "$ctx" >&2
	drop_if_dangling "$old"
	log "$OPA_IMAGE (OPA $version) built in $(elapsed "$t0")"
}

main() {
	docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
		die "the Docker daemon does not answer (docker version failed)"
	work=$(mktemp -d -t waooaw-images.XXXXXX)

	build_postgres_redis

	local version=${OPA_VERSION:-}
	if [ -z "$version" ]; then
		version=$(awk '$1 == "github.com/open-policy-agent/opa" { print $2; exit }' "$repo/go.mod")
		[ -n "$version" ] || die "no github.com/open-policy-agent/opa in $repo/go.mod; set OPA_VERSION"
	fi
	local opa_recipe
	opa_recipe=$({ echo "$version"; declare -f build_opa; } | hash)
	if up_to_date "$OPA_IMAGE" "$opa_recipe"; then
		log "$OPA_IMAGE is present and up to date; skipped"
	else
		build_opa "$version" "$opa_recipe"
	fi

	echo "export WAOOAW_IMAGE_POSTGRES=$PG_IMAGE"
	echo "export WAOOAW_IMAGE_REDIS=$PG_IMAGE"
	echo "export WAOOAW_IMAGE_OPA=$OPA_IMAGE"
}

main "$@"
