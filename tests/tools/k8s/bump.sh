#!/usr/bin/env bash
# Regenerates go.mod/go.sum of this test-tooling module for another Kubernetes version, e.g.
#   tests/tools/k8s/bump.sh v1.37.2
# The replace block is derived from k8s.io/kubernetes' own go.mod (its `=> ./staging/src/k8s.io/...` lines): each
# staging module is replaced by its published tag v0.<minor>.<patch>.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
version="${1:?usage: bump.sh vX.Y.Z}"
export GOTOOLCHAIN=local
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
staging="v0.${version#v1.}"
gomod="$("$GO" mod download -json "k8s.io/kubernetes@$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
[[ -f "$gomod" ]] || { echo "cannot download k8s.io/kubernetes@$version" >&2; exit 1; }
{
  echo '// Test tooling only: builds kube-apiserver, kubectl and the node's parts from the k8s.io/kubernetes module.'
  echo "// Never part of the Rust build. The replace block is derived from the module's own go.mod"
  echo "// (go mod download -json k8s.io/kubernetes@$version, field GoMod): each staging module => its published $staging tag."
  echo '// Regenerate with tests/tools/k8s/bump.sh.'
  echo 'module callback-operator/tests/tools/k8s'
  echo
  echo "go $(sed -n 's/^go //p' "$gomod")"
  echo
  echo "godebug default=go$(sed -n 's/^go \([0-9]*\.[0-9]*\).*/\1/p' "$gomod")"
  echo
  echo 'tool ('
  echo '	k8s.io/kubernetes/cmd/kube-apiserver'
  echo '	k8s.io/kubernetes/cmd/kube-controller-manager'
  echo '	k8s.io/kubernetes/cmd/kube-scheduler'
  echo '	k8s.io/kubernetes/cmd/kubectl'
  echo '	k8s.io/kubernetes/cmd/kubelet'
  echo ')'
  echo
  echo "require k8s.io/kubernetes $version"
  echo
  echo 'replace ('
  sed -n "s#^[[:space:]]*\(k8s.io/[A-Za-z0-9._-]*\) => ./staging/src/k8s.io/.*#\t\1 => \1 $staging#p" "$gomod"
  echo ')'
} >go.mod
rm -f go.sum
"$GO" mod tidy
echo "staging replaces: $(grep -c "=> k8s.io/.* $staging" go.mod)" >&2
