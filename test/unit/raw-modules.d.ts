// Vite's `?raw` imports (fixtures read as text in plain-node unit tests).
declare module '*?raw' {
  const text: string;
  export default text;
}
