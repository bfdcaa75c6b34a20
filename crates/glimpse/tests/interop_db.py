"""Database side of tests/interop.rs, run with the Glance 33 venv's
SQLAlchemy (the driver Glance itself uses for the URL):

  interop_db.py <url> [<image-id>...]
      prints JSON: {"schema": ..., "rows": {<image-id>: ...}}

"schema" is every table with its columns, primary key, indexes, unique
constraints and foreign keys, plus alembic_version's rows: the test takes
one before and one after both servers have used the database, so that
neither may change it. "rows" are the rows an image owns in Glance's image
tables, surrogate ids dropped and timestamps reduced to set/unset (the two
servers write at different instants; what matters is which columns they
fill and with what), children sorted, so that an image written through
Glance can be compared with one written through Glimpse.
"""
import datetime
import json
import sys

import sqlalchemy as sa


def schema(eng):
    insp = sa.inspect(eng)
    out = {}
    for t in sorted(insp.get_table_names()):
        out[t] = {
            'columns': [[c['name'], str(c['type']), c['nullable'],
                         str(c.get('default')),
                         bool(c.get('autoincrement') is True)]
                        for c in insp.get_columns(t)],
            'pk': insp.get_pk_constraint(t).get('constrained_columns'),
            'indexes': sorted([i['name'], i['column_names'], bool(i['unique'])]
                              for i in insp.get_indexes(t)),
            'uniques': sorted([u['name'], u['column_names']]
                              for u in insp.get_unique_constraints(t)),
            'fks': sorted([f['name'], f['constrained_columns'],
                           f['referred_table'], f['referred_columns']]
                          for f in insp.get_foreign_keys(t)),
        }
    with eng.connect() as c:
        out['(alembic_version rows)'] = sorted(
            r[0] for r in c.execute(sa.text('SELECT version_num FROM alembic_version')))
    return out


def value(column, v):
    # SQLite hands timestamps back as text, the others as datetimes.
    if column.endswith('_at') or isinstance(v, datetime.datetime):
        return None if v is None else '<set>'
    if isinstance(v, bool):
        return int(v)
    return v


def rows(eng, image_id):
    out = {}
    with eng.connect() as c:
        for table, key, order in [
                ('images', 'id', 'id'),
                ('image_properties', 'image_id', 'name, deleted'),
                ('image_tags', 'image_id', 'value, deleted'),
                ('image_members', 'image_id', 'member, deleted'),
                ('image_locations', 'image_id', 'value, deleted')]:
            res = c.execute(sa.text('SELECT * FROM %s WHERE %s = :i ORDER BY %s'
                                    % (table, key, order)), {'i': image_id})
            cols = list(res.keys())
            out[table] = [{k: value(k, v) for k, v in zip(cols, r)
                           if not (k == 'id' and table != 'images')}
                          for r in res]
    return out


def main():
    url = sys.argv[1]
    eng = sa.create_engine(url)
    print(json.dumps({'schema': schema(eng),
                      'rows': {i: rows(eng, i) for i in sys.argv[2:]}}))
    eng.dispose()


main()
