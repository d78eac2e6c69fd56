import { describe, expect, it, afterEach } from 'vitest';
import { cleanup, render, screen } from '@testing-library/react';
import { StackedBars } from './StackedBars';
import { Login } from '../pages/Login';
import { Actions } from './Actions';

afterEach(cleanup);

describe('components', () => {
  it('the chart draws a bar per group and a legend naming them', () => {
    const series = {
      bucket: 'day' as const,
      from: '2026-11-25T00:00:00Z',
      to: '2026-12-01T00:00:00Z',
      series: [
        { account_id: '111111111111', resource_kind: 'ec2', points: [{ at: '2026-11-30T00:00:00Z', hourly_usd: 2, events: 1 }] },
        { account_id: '222222222222', resource_kind: 'nat', points: [{ at: '2026-11-30T00:00:00Z', hourly_usd: 1, events: 1 }] },
      ],
    };
    const { container } = render(<StackedBars series={series} by="account" days={7} />);
    expect(container.querySelectorAll('rect')).toHaveLength(2);
    expect(screen.getByText('111111111111')).toBeTruthy();
    expect(screen.getByRole('img').getAttribute('aria-label')).toMatch(/by account/);
  });

  it('an anomaly offers only the actions that would change it', () => {
    render(<Actions id="a-1" status="acknowledged" isAdmin done={() => {}} />);
    const disabled = (name: string) => (screen.getByRole('button', { name }) as HTMLButtonElement).disabled;
    expect(disabled('Acknowledge')).toBe(true);
    expect(disabled('Snooze 24 h')).toBe(false);
    expect(disabled('Mark expected')).toBe(false);
    expect(disabled('Resolve')).toBe(false);
  });

  it('a member is not offered Mark expected, which needs an admin', () => {
    render(<Actions id="a-1" status="open" isAdmin={false} done={() => {}} />);
    expect(screen.queryByRole('button', { name: 'Mark expected' })).toBeNull();
    expect(screen.getByRole('button', { name: 'Snooze 24 h' })).toBeTruthy();
  });

  it('the local sign-in has labelled Email and Password fields and a Sign in button', () => {
    render(<Login config={{ mode: 'local', api: '' }} failure={null} onSignedIn={() => {}} />);
    expect(screen.getByLabelText('Email')).toBeTruthy();
    expect(screen.getByLabelText('Password')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Sign in' })).toBeTruthy();
  });

  it('the cloud sign-in offers the hosted page, no password field', () => {
    render(<Login config={{ mode: 'cloud', api: '', cognito: { domain: 'https://idp.example', client_id: 'c' } }} failure={null} onSignedIn={() => {}} />);
    expect(screen.queryByLabelText('Password')).toBeNull();
    expect(screen.getByRole('button', { name: 'Sign in' })).toBeTruthy();
  });
});
