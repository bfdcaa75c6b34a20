"""Reads and writes images through Python Glance 33's own DB API
(glance.db.sqlalchemy.api) for Glimpse's cross-compatibility test.
usage: glance_db.py <sqlalchemy-url> read <id>... | write <json>"""
import datetime
import json
import sys

from oslo_config import cfg
from oslo_db import options

from glance import context
from glance.db.sqlalchemy import api

options.set_defaults(cfg.CONF)
cfg.CONF([], project='glance', default_config_files=[])
cfg.CONF.set_override('connection', sys.argv[1], group='database')

ctx = context.RequestContext(is_admin=True)


def ts(v):
    return v.strftime('%Y-%m-%d %H:%M:%S.%f') if v is not None else None


def image_out(img, tags, members):
    return {
        'id': img['id'], 'name': img['name'], 'status': img['status'],
        'visibility': img['visibility'], 'protected': img['protected'],
        'os_hidden': img['os_hidden'], 'checksum': img['checksum'],
        'os_hash_algo': img['os_hash_algo'],
        'os_hash_value': img['os_hash_value'], 'owner': img['owner'],
        'size': img['size'], 'virtual_size': img['virtual_size'],
        'disk_format': img['disk_format'],
        'container_format': img['container_format'],
        'min_ram': img['min_ram'], 'min_disk': img['min_disk'],
        'created_at': ts(img['created_at']),
        'updated_at': ts(img['updated_at']),
        'deleted': img['deleted'],
        'properties': {p['name']: p['value'] for p in img['properties']
                       if not p['deleted']},
        'tags': tags,
        'locations': [{'url': l['url'], 'metadata': l['metadata'],
                       'status': l['status']} for l in img['locations']],
        'members': sorted((m['member'], m['status']) for m in members),
    }


if sys.argv[2] == 'read':
    out = {}
    for image_id in sys.argv[3:]:
        img = api.image_get(ctx, image_id)
        out[image_id] = image_out(img, api.image_tag_get_all(ctx, image_id),
                                  api.image_member_find(ctx, image_id=image_id))
    listed = api.image_get_all(ctx, filters={'deleted': False},
                               return_tag=True)
    out['_list'] = [i['id'] for i in listed]
    print(json.dumps(out))
else:
    spec = json.loads(sys.argv[3])
    now = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456)
    values = dict(spec['image'], created_at=now, updated_at=now)
    api.image_create(ctx, values)
    api.image_tag_set_all(ctx, values['id'], spec['tags'])
    for m, status in spec['members']:
        api.image_member_create(ctx, {'image_id': values['id'], 'member': m,
                                      'status': status})
    print('ok')
