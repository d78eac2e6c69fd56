import { createRoot } from 'react-dom/client';
import { App, Unconfigured } from './App';
import { configure } from './api/client';
import { loadConfig } from './config';
import './styles.css';

const root = createRoot(document.getElementById('root')!);
loadConfig()
  .then((config) => {
    configure(config.api);
    root.render(<App config={config} />);
  })
  .catch((e: unknown) => root.render(<Unconfigured reason={e instanceof Error ? e.message : String(e)} />));
