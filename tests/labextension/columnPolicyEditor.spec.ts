import React from 'react';
import { renderToStaticMarkup } from 'react-dom/server';

import {
  canEditPolicies,
  currentAction,
  policyEditProblem,
  policyRows
} from '../../labextension/src/experiments/columnPolicies';
import { PolicyEditor } from '../../labextension/src/experiments/widgets/PolicyEditor';

const rows = policyRows({
  dataset: 'credit',
  columns: [
    { name: 'customer', in_schema: true, policies: { viewer: 'hash' } },
    { name: 'ssn', in_schema: true, policies: { viewer: 'deny' } }
  ]
});

describe('editing column policies in the panel', () => {
  it('is offered to leads and admins only', () => {
    expect(canEditPolicies('lead')).toBe(true);
    expect(canEditPolicies('admin')).toBe(true);
    for (const r of ['viewer', 'stakeholder', 'scientist', null, undefined]) {
      expect(canEditPolicies(r)).toBe(false);
    }
  });

  it('knows what a role sees now and refuses a change that changes nothing', () => {
    expect(currentAction(rows, 'customer', 'viewer')).toBe('hash');
    expect(currentAction(rows, 'customer', 'scientist')).toBe('allow');
    expect(currentAction(rows, 'nosuch', 'viewer')).toBe('allow');
    expect(policyEditProblem(rows, '', 'viewer', 'mask')).toBe('Choose a column');
    expect(policyEditProblem(rows, 'ssn', 'boss', 'mask')).toBe('Choose a role');
    expect(policyEditProblem(rows, 'ssn', 'viewer', 'hide')).toBe('Choose allow, mask, hash or deny');
    expect(policyEditProblem(rows, 'ssn', 'viewer', 'deny')).toBe('viewer already sees ssn as deny');
    expect(policyEditProblem(rows, 'ssn', 'viewer', 'mask')).toBeNull();
    expect(policyEditProblem(rows, 'customer', 'scientist', 'allow')).toMatch(/already/);
  });

  it("renders a column, role and action choice with a Save for a lead, the current action preselected", () => {
    const html = renderToStaticMarkup(
      React.createElement(PolicyEditor, { rows, onSave: async () => undefined })
    );
    expect(html).toContain('data-testid="mlp-policy-editor"');
    expect(html).toContain('data-testid="mlp-policy-column"');
    expect(html).toContain('<option value="ssn">ssn</option>');
    expect(html).toContain('data-testid="mlp-policy-role"');
    expect(html).toContain('data-testid="mlp-policy-action"');
    for (const a of ['allow', 'mask', 'hash', 'deny']) {
      expect(html).toContain(`<option value="${a}"`);
    }
    // customer (first column) for viewer (first role) is hashed now: the action shows it, Save waits for a change
    expect(html).toMatch(/<option value="hash" selected="">hash<\/option>/);
    expect(html).toMatch(/data-testid="mlp-policy-save"[^>]*disabled=""|disabled=""[^>]*data-testid="mlp-policy-save"/);
  });

  it('renders nothing to edit when the dataset has no columns', () => {
    const html = renderToStaticMarkup(React.createElement(PolicyEditor, { rows: [], onSave: async () => undefined }));
    expect(html).not.toContain('mlp-policy-save');
  });
});
