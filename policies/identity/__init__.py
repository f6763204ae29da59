"""Identity: bearer-token verification (Keycloak or the embedded dev issuer), Keycloak provisioning, grant mirroring.

Import from the modules: `verifier.TokenVerifier`, `dev_issuer.DevIssuer`, `factory.verifier_from_settings`,
`keycloak_admin.bootstrap_realm` / `KeycloakGrantMirror`, `grant_mirror.GrantMirror` / `NoMirror` (delivered
through `policies/access/mirror.py`), `errors.AuthError`.
"""
