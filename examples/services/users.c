/*
 * example_users: a toy "users" backend for gantry's examples and integration tests.
 *
 *   GET    /api/users         list        POST /api/users {"name": "...", "email": "..."}
 *   GET    /api/users/{id}    one user    DELETE /api/users/{id}
 *   GET    /health
 *
 * State lives in memory and is lost on exit. See minihttp.h for the server itself.
 */
#include "minihttp.h"

static json_t *seed_users(void)
{
    return json_pack("[{s:s, s:s}, {s:s, s:s}]", "name", "Ada Lovelace", "email", "ada@example.com",
                     "name", "Alan Turing", "email", "alan@example.com");
}

/* {"name": non-empty string of at most 100 bytes, "email": optional string} */
static json_t *create_user(const json_t *body, const char **err)
{
    const json_t *name = json_object_get(body, "name");
    const json_t *email = json_object_get(body, "email");

    if (!json_is_string(name) || json_string_length(name) == 0 || json_string_length(name) > 100) {
        *err = "\"name\" must be a non-empty string of at most 100 bytes";
        return NULL;
    }
    if (email && !json_is_string(email)) {
        *err = "\"email\" must be a string";
        return NULL;
    }
    json_t *user = json_object();
    if (!user)
        return NULL;
    if (json_object_set_new(user, "name", json_deep_copy(name)) != 0 ||
        (email && json_object_set_new(user, "email", json_deep_copy(email)) != 0)) {
        json_decref(user);
        return NULL;
    }
    return user;
}

int main(int argc, char **argv)
{
    struct mh_service svc = {
        .name = "users",
        .collection = "/api/users",
        .default_port = 3001,
        .create = create_user,
        .seed = seed_users,
    };
    return mh_main(&svc, argc, argv);
}
