import packageJson from "../../package.json" with { type: "json" };

/** The running Agentry version, from package.json (inlined by the bundlers). */
export const APP_VERSION: string = packageJson.version;
