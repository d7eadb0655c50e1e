// The dashboard's entry point: one script for every page route.
import { render } from 'preact';
import './styles.css';
// The activity chunk's CSS (see activity/index.tsx).
import 'uplot/dist/uPlot.min.css';
import './activity/activity.css';
import { App } from './app';
import { SignIn } from './signin';

const root = document.getElementById('app')!;
root.textContent = '';
render(location.pathname === '/signin' ? <SignIn /> : <App />, root);
