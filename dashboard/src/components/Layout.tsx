/** The frame of every signed-in page: navigation, who is signed in, sign-out, and in the footer
 * how old the prices are. */
import { useEffect, useState, type ReactNode } from 'react';
import { api, ok } from '../api/client';
import { catalogAge } from '../format';
import { Link } from '../router';
import { useSigned } from '../session';

const PAGES = [
  ['/', 'Overview'],
  ['/anomalies', 'Anomalies'],
  ['/zombies', 'Zombies'],
  ['/actions', 'Actions'],
  ['/accounts', 'Accounts'],
  ['/settings', 'Settings'],
  ['/panic', 'Panic mode'],
] as const;

export function Layout({ path, children }: { path: string; children: ReactNode }) {
  const { principal, signOut } = useSigned();
  const active = (href: string) => (href === '/' ? path === '/' : path.startsWith(href));
  return (
    <div className="shell">
      <header>
        <span className="brand">
          dd0c<span className="accent">/cost</span>
        </span>
        <nav aria-label="Pages">
          {PAGES.map(([href, label]) => (
            <Link key={href} href={href} aria-current={active(href) ? 'page' : undefined}>
              {label}
            </Link>
          ))}
        </nav>
        <span className="who">
          {principal.email ?? principal.subject} · {principal.tenant} · {principal.role}
        </span>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main>{children}</main>
      <CatalogFooter />
    </div>
  );
}

/** The price catalog's date and age; nothing while it loads or when it cannot be read. */
function CatalogFooter() {
  const [text, setText] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    ok(api().GET('/v1/catalog'))
      .then((info) => live && setText(catalogAge(info)))
      .catch(() => live && setText(null));
    return () => {
      live = false;
    };
  }, []);
  return text ? <footer className="catalog">{text}</footer> : null;
}
