/*
 * The "identity" section's types: built-in identity (config_identity.c, README "Built-in
 * identity", docs/config.md "Identity"). The identity of a request is policy/identity-t.h.
 */
#ifndef GW_CONFIG_TYPES_IDENTITY_T_H
#define GW_CONFIG_TYPES_IDENTITY_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "identity.register.mode" */
enum gw_idp_register_mode {
    GW_IDP_REGISTER_OFF,    /* no registration endpoint */
    GW_IDP_REGISTER_OPEN,   /* anyone */
    GW_IDP_REGISTER_INVITE, /* with one of register.invite_codes */
    GW_IDP_REGISTER_ADMIN,  /* a bearer token with admin_role (the first user: anyone) */
};

/* "identity.store" */
enum gw_idp_store_kind {
    GW_IDP_STORE_SQLITE,   /* identity.sqlite: one file, this host */
    GW_IDP_STORE_POSTGRES, /* identity.postgres.dsn: shared by several gantry instances */
};

/* "identity.migrate" */
enum gw_idp_migrate_kind {
    GW_IDP_MIGRATE_AUTO, /* the store's schema migrations applied at start */
    GW_IDP_MIGRATE_OFF,  /* only by `gantry migrate`: pending ones refuse the start */
};

/* "identity.revocation.backend" */
enum gw_idp_revoke_backend {
    GW_IDP_REVOKE_LOCAL, /* this process only */
    GW_IDP_REVOKE_REDIS, /* shared through rate_limit.redis's Redis (state/revoked_redis.h) */
};

/* "identity.revocation.failure_policy": a token check while Redis is unreachable (or its set
 * not yet read again after a reconnect) */
enum gw_idp_revoke_failure {
    GW_IDP_REVOKE_FAIL_LOCAL,  /* "local": this instance's set decides (its own revocations and
                                  what it heard before) */
    GW_IDP_REVOKE_FAIL_CLOSED, /* "fail_closed": tokens issued by identity answered 503 */
};

/* The endpoints of built-in identity, indexes of gw_identity_conf.paths. */
enum gw_idp_endpoint {
    GW_IDP_EP_REGISTER,
    GW_IDP_EP_LOGIN,
    GW_IDP_EP_REFRESH,
    GW_IDP_EP_LOGOUT,
    GW_IDP_EP_ME,
    GW_IDP_EP_PASSWORD,
    GW_IDP_EP_TOTP_ENROL,   /* only while identity.totp is on */
    GW_IDP_EP_TOTP_CONFIRM, /* " */
    GW_IDP_EP_TOTP_DISABLE, /* " */
    GW_IDP_EP__COUNT,
    /* Not a path: a login's account, resolved for identity.throttle (identity.h). */
    GW_IDP_EP_ACCOUNT = GW_IDP_EP__COUNT,
};

struct gw_jwt_keyring;

/* "identity.jwt.keys[]": a private key identity signs with (EdDSA or ES256). */
struct gw_identity_key_conf {
    char *kid;              /* "kid", required, unique */
    char *alg;              /* "alg", required: "EdDSA" or "ES256" */
    char *private_key_file; /* "private_key_file", required: PEM (PKCS#8 or SEC 1) */
};

/* "identity" (config_identity.c, README "Built-in identity", docs/config.md "Identity"):
 * register, login, refresh, logout and me on the proxy port. Off unless the section is
 * there; bound at start (a reload keeps the store and key that started). */
struct gw_identity_conf {
    bool enabled;
    int store;                              /* "store": GW_IDP_STORE_*, default sqlite */
    char *sqlite;                           /* "sqlite": the database file (store sqlite) */
    int migrate;                            /* "migrate": GW_IDP_MIGRATE_*, default auto */
    char *pg_dsn;                           /* "postgres.dsn" (else DATABASE_URL) */
    uint32_t pg_pool;                       /* "postgres.pool", default 4 connections */
    uint64_t pg_timeout_ms;                 /* "postgres.timeout", default 5s */
    char *issuer;                           /* "issuer", default "gantry" */
    char *audience;                         /* "audience", default "gantry" */
    char *kid;                              /* "jwt.kid", default "gantry-identity" */
    char *secret;                           /* "jwt.secret": HS256, at least 32 bytes */
    struct gw_identity_key_conf *key_confs; /* "jwt.keys" */
    size_t nkey_confs;
    char *active_kid; /* "jwt.active": the kid that signs, default the first key's */
    /* the signing keys loaded from jwt.secret and jwt.keys (config_identity.c), and the
     * JWK Set of their public halves; owned by the config (a reference) */
    struct gw_jwt_keyring *keyring;
    char *jwks_path;             /* "jwks.path", default "/.well-known/jwks.json" */
    size_t jwks_path_len;        /* 0 when no asymmetric key: nothing is served */
    uint64_t jwks_max_age_ms;    /* "jwks.max_age", default 5m: its Cache-Control */
    char jwks_cache_control[64]; /* "Cache-Control: public, max-age=N\r\n" */
    uint64_t access_ttl_ms;      /* "access_ttl", default 15m */
    uint64_t refresh_idle_ms;    /* "refresh_idle", default 0 = none */
    uint64_t refresh_ttl_ms;     /* "refresh_ttl", default 720h (30 days) */
    uint32_t opslimit;           /* "password.opslimit", default 2 (argon2id passes) */
    uint64_t memlimit;           /* "password.memlimit", default 64MiB */
    uint32_t min_length;         /* "password.min_length", default 10 (code points) */
    int register_mode;           /* "register.mode": GW_IDP_REGISTER_*, default admin */
    char **invite_codes;         /* "register.invite_codes" */
    size_t ninvite_codes;
    char **default_roles; /* "register.roles", default ["user"] */
    size_t ndefault_roles;
    char *admin_role;              /* "admin_role", default "admin" */
    char *paths[GW_IDP_EP__COUNT]; /* "paths.register|login|...|password" (GW_IDP_EP_*) */
    uint32_t max_failures;         /* "lockout.max_failures", default 5: per account */
    uint32_t max_addr_failures;    /* "lockout.max_address_failures", default 20 */
    uint64_t lockout_window_ms;    /* "lockout.window", default 15m */
    uint64_t lockout_ms;           /* "lockout.duration", default 15m */
    /* "throttle": login attempts per account and per client address, counted by the
     * gateway's rate limiter (rate_limit.backend: in-process or Redis); off when absent */
    bool throttle_enabled;
    uint32_t throttle_account_limit;     /* "throttle.account.limit", default 10 */
    uint64_t throttle_account_period_ms; /* "throttle.account.period", default 1m */
    uint32_t throttle_address_limit;     /* "throttle.address.limit", default 100 */
    uint64_t throttle_address_period_ms; /* "throttle.address.period", default 1m */
    int revocation_backend;              /* "revocation.backend": GW_IDP_REVOKE_*, default local */
    char *revocation_key;                /* "revocation.key", default "gantry:identity:revoked" */
    int revocation_failure_policy; /* "revocation.failure_policy": GW_IDP_REVOKE_FAIL_*, local */
    /* "totp": second factor (RFC 6238, HMAC-SHA1), off unless the section is there */
    bool totp_enabled;
    char *totp_key;            /* "totp.encryption_key" (else ENCRYPTION_KEY): 64 hex */
    char **totp_previous_keys; /* "totp.previous_keys" */
    size_t ntotp_previous_keys;
    char *totp_issuer;            /* "totp.issuer" (otpauth URI), default: "issuer" */
    uint32_t totp_digits;         /* "totp.digits", default 6 */
    uint32_t totp_period_s;       /* "totp.period", default 30 (seconds) */
    uint32_t totp_window;         /* "totp.window", default 1 (steps either side) */
    uint32_t totp_recovery_codes; /* "totp.recovery_codes", default 10 */
};

#endif
