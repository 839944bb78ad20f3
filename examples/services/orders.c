/*
 * example_orders: a toy "orders" backend for gantry's examples and integration tests.
 *
 *   GET    /api/orders        list        POST /api/orders {"item": "...", "quantity": 2,
 *   GET    /api/orders/{id}   one order                      "user_id": 1}
 *   DELETE /api/orders/{id}               GET /health
 *
 * State lives in memory and is lost on exit. See minihttp.h for the server itself.
 */
#include "minihttp.h"

static json_t *seed_orders(void)
{
    return json_pack("[{s:i, s:s, s:i}, {s:i, s:s, s:i}]", "user_id", 1, "item",
                     "analytical engine", "quantity", 1, "user_id", 2, "item", "bombe", "quantity",
                     2);
}

/* {"item": non-empty string, "quantity": optional integer >= 1 (default 1),
 *  "user_id": optional integer >= 1} */
static json_t *create_order(const json_t *body, const char **err)
{
    const json_t *item = json_object_get(body, "item");
    const json_t *qty = json_object_get(body, "quantity");
    const json_t *user = json_object_get(body, "user_id");

    if (!json_is_string(item) || json_string_length(item) == 0 || json_string_length(item) > 200) {
        *err = "\"item\" must be a non-empty string of at most 200 bytes";
        return NULL;
    }
    if (qty && (!json_is_integer(qty) || json_integer_value(qty) < 1)) {
        *err = "\"quantity\" must be an integer >= 1";
        return NULL;
    }
    if (user && (!json_is_integer(user) || json_integer_value(user) < 1)) {
        *err = "\"user_id\" must be an integer >= 1";
        return NULL;
    }
    json_int_t quantity = qty ? json_integer_value(qty) : 1;
    json_t *order = json_object();
    if (!order)
        return NULL;
    if ((user && json_object_set_new(order, "user_id", json_deep_copy(user)) != 0) ||
        json_object_set_new(order, "item", json_deep_copy(item)) != 0 ||
        json_object_set_new(order, "quantity", json_integer(quantity)) != 0) {
        json_decref(order);
        return NULL;
    }
    return order;
}

int main(int argc, char **argv)
{
    struct mh_service svc = {
        .name = "orders",
        .collection = "/api/orders",
        .default_port = 3002,
        .create = create_order,
        .seed = seed_orders,
    };
    return mh_main(&svc, argc, argv);
}
