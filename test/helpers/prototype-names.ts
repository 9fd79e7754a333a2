/** Keys that find `Object.prototype` members on a plain object: what every lookup test feeds in. */
export const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty'];
