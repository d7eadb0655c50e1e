// The dashboard's entry point: one script for every page route.
import { render } from 'preact';
import './styles.css';
import { App } from './app';
import { SignIn } from './signin';

const root = document.getElementById('app')!;
root.textContent = '';
render(location.pathname === '/signin' ? <SignIn /> : <App />, root);
