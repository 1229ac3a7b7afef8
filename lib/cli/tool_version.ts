/** The tool's own version (not the CNI spec version). */
export const TOOL_VERSION = "0.1.0";
