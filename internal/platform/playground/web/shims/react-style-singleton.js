// A drop-in for the npm package react-style-singleton (2.x), which the
// dialogs' scroll lock (react-remove-scroll, via Radix) uses to add a <style>
// element. The page's Content-Security-Policy allows styles from 'self' only,
// so such an element is refused; this version applies the same rules as a
// constructed stylesheet (CSSOM), which the policy does not restrict.
// build.sh substitutes it with esbuild's --alias.
import * as React from 'react';

export function stylesheetSingleton() {
  let counter = 0;
  let sheet = null;
  return {
    add(style) {
      if (counter === 0 && typeof CSSStyleSheet === 'function' && 'adoptedStyleSheets' in document) {
        try {
          sheet = new CSSStyleSheet();
          sheet.replaceSync(style);
          document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
        } catch {
          sheet = null; // the scroll lock is cosmetic: do without
        }
      }
      counter++;
    },
    remove() {
      counter--;
      if (counter === 0 && sheet) {
        const s = sheet;
        document.adoptedStyleSheets = document.adoptedStyleSheets.filter((x) => x !== s);
        sheet = null;
      }
    },
  };
}

export function styleHookSingleton() {
  const sheet = stylesheetSingleton();
  return (styles, isDynamic) => {
    React.useEffect(() => {
      sheet.add(styles);
      return () => sheet.remove();
    }, [styles && isDynamic]);
  };
}

export function styleSingleton() {
  const useStyle = styleHookSingleton();
  return function Sheet({ styles, dynamic }) {
    useStyle(styles, dynamic);
    return null;
  };
}
