/* contact.c - contact and event values */
#include "contact.h"

#include <stdlib.h>
#include <ctype.h>
#include <string.h>

#include "hash.h"
#include "xmalloc.h"

static const char *const channel_names[CHANNEL_NKINDS] = {"email", "sms", "chat"};

const char *channel_name(enum channel_kind k)
{
	return (unsigned)k < CHANNEL_NKINDS ? channel_names[k] : "?";
}

int channel_parse(const char *s)
{
	for (int i = 0; s && i < CHANNEL_NKINDS; i++)
		if (strcmp(s, channel_names[i]) == 0)
			return i;
	return -1;
}

void contact_release(struct contact *c)
{
	free(c->id);
	free(c->name);
	free(c->email);
	free(c->phone);
	free(c->timezone);
	free(c->locale);
	if (c->attrs)
		json_decref(c->attrs);
	memset(c, 0, sizeof(*c));
}

void event_release(struct event *ev)
{
	free(ev->contact_id);
	free(ev->type);
	free(ev->ext_id);
	if (ev->data)
		json_decref(ev->data);
	memset(ev, 0, sizeof(*ev));
}

const char *contact_field(const struct contact *c, const char *name)
{
	if (strcmp(name, "id") == 0)
		return c->id;
	if (strcmp(name, "name") == 0)
		return c->name;
	if (strcmp(name, "email") == 0)
		return c->email;
	if (strcmp(name, "phone") == 0)
		return c->phone;
	if (strcmp(name, "timezone") == 0)
		return c->timezone;
	if (strcmp(name, "locale") == 0)
		return c->locale;
	return NULL;
}

char *contact_address_key(const char *addr)
{
	if (!addr)
		return NULL;
	if (strstr(addr, "://")) {
		char hex[65];
		sha256_hex(addr, strlen(addr), hex);
		return xasprintf("url-sha256:%.32s", hex);
	}
	char *k = xstrdup(addr);
	if (strchr(k, '@'))
		for (char *p = k; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	return k;
}

int event_data_machine(const char *data)
{
	if (!data || !strstr(data, "machine"))
		return 0;
	json_t *d = json_loads(data, 0, NULL);
	int m = json_is_true(json_object_get(d, "machine"));
	json_decref(d);
	return m;
}
