"""Decisions of the real oslo.policy for glimpse-policy's differential test.

Usage: python oslo_oracle.py CASES.json RESULTS.json

CASES.json holds {"scenarios": [...], "creds": [...], "targets": [...],
"cases": [...]}. A scenario is an enforcer set-up: {"enforce_new_defaults":
bool, "policy_file": path or null, "policy_dirs": [paths]}. A case is
{"s": scenario index, "c": creds index, "t": target index} plus either
"rule" (a policy name, checked the way Glance's Enforcer.check does:
unregistered names are refused) or "check" (an ad-hoc check string).
RESULTS.json gets {"oslo_policy": version, "results": [...]} with one
answer per case: "true", "false", "not_registered" or "error" (oslo
raised).
"""

import importlib.metadata
import json
import logging
import sys
import warnings

from oslo_config import cfg
from oslo_policy import _parser
from oslo_policy import policy

import glance.policies

MISSING = '/nonexistent/glimpse-policy/policy.yaml'


def make_enforcer(scenario):
    conf = cfg.ConfigOpts()
    conf([], project='glimpse-policy-oracle', default_config_files=[])
    # Glance's enforcer: use_conf=True, overwrite=False, default changes
    # not warned about.
    enforcer = policy.Enforcer(
        conf,
        policy_file=scenario['policy_file'] or MISSING,
        use_conf=True,
        overwrite=False,
    )
    conf.set_override(
        'enforce_new_defaults',
        scenario['enforce_new_defaults'],
        group='oslo_policy',
    )
    conf.set_override(
        'policy_dirs', scenario['policy_dirs'], group='oslo_policy'
    )
    enforcer.suppress_default_change_warnings = True
    enforcer.register_defaults(glance.policies.list_rules())
    return enforcer


def decide(enforcer, case, creds, target):
    # enforce() writes creds['system']: give every call its own copy.
    creds = dict(creds)
    target = dict(target)
    try:
        if 'rule' in case:
            if case['rule'] not in enforcer.registered_rules:
                return 'not_registered'
            result = enforcer.enforce(case['rule'], target, creds)
        else:
            check = _parser.parse_rule(case['check'])
            result = enforcer.enforce(check, target, creds)
    except Exception:  # noqa: BLE001 - any exception is the answer
        return 'error'
    return 'true' if result else 'false'


def main():
    logging.disable(logging.CRITICAL)
    warnings.simplefilter('ignore')
    sys.setrecursionlimit(1000)
    with open(sys.argv[1]) as f:
        data = json.load(f)
    enforcers = [make_enforcer(s) for s in data['scenarios']]
    creds, targets = data['creds'], data['targets']
    results = [
        decide(enforcers[c['s']], c, creds[c['c']], targets[c['t']])
        for c in data['cases']
    ]
    with open(sys.argv[2], 'w') as f:
        json.dump(
            {
                'oslo_policy': importlib.metadata.version('oslo.policy'),
                'results': results,
            },
            f,
        )


if __name__ == '__main__':
    main()
