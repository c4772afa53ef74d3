# Shared by the scripts (sourced from the repository root): curl as the admin of the kubeconfig a
# silo writes at start (Orchestrator:Security:Kubeconfig, default <data directory>/admin.kubeconfig).
# The API serves HTTPS only, with a certificate of the cluster CA, and answers 401 to a request
# without a credential (except GET /healthz, /livez, /readyz and /version), so curl needs both:
#   kubeconfig_curl_files KUBECONFIG DIR     (once the silo has written KUBECONFIG)
#   curl --cacert DIR/ca.crt -H @DIR/auth-header https://...
# The token goes through a file (mode 0600), never on a command line, where ps would show it.

# The value of the first "NAME: value" line of a kubeconfig (as the silo writes it: one cluster,
# one user).
kubeconfig_field() { # file, name
  sed -nE "s/^[[:space:]]*$2:[[:space:]]*([^[:space:]]+)[[:space:]]*$/\1/p" "$1" | head -n 1
}

# Writes DIR/ca.crt (the cluster CA, PEM) and DIR/auth-header ("Authorization: Bearer TOKEN").
kubeconfig_curl_files() { # kubeconfig, dir
  local ca token
  ca=$(kubeconfig_field "$1" certificate-authority-data)
  token=$(kubeconfig_field "$1" token)
  if [ -z "$ca" ] || [ -z "$token" ]; then
    echo "error: $1 has no certificate-authority-data or no token" >&2
    return 1
  fi
  mkdir -p "$2"
  (
    umask 077
    printf '%s' "$ca" | base64 -d >"$2/ca.crt"
    printf 'Authorization: Bearer %s\n' "$token" >"$2/auth-header"
  )
}
