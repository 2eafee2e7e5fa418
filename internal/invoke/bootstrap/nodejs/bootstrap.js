/**
 * Signet runtime bootstrap for Node.js functions.
 *
 * Run as `/usr/bin/node /var/runtime/bootstrap.js`. It speaks the AWS Lambda
 * Runtime API (AWS_LAMBDA_RUNTIME_API) the way the managed Node.js runtime
 * does, so that unmodified handlers behave as they do on AWS:
 *
 *  - the handler named by _HANDLER ("module.function", the module part may
 *    be a path such as "src/app", the function part a dotted path) is loaded
 *    from LAMBDA_TASK_ROOT as CommonJS or as an ES module;
 *  - failures to load it are reported to /runtime/init/error with AWS's
 *    error types (Runtime.ImportModuleError, Runtime.HandlerNotFound, ...)
 *    and the process exits with status 1;
 *  - handlers are called as handler(event, context, callback): a returned
 *    promise settles the invocation, otherwise the callback (or
 *    context.succeed/fail/done) does, and a handler that does neither ends
 *    when the event loop is empty, as on AWS;
 *  - console.* writes "<ISO time>\t<request id>\t<LEVEL>\t<message>" lines to
 *    stdout, synchronously so that their order is kept.
 *
 * Only Node's built-in modules are used.
 */

'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');
const util = require('util');
const { pathToFileURL } = require('url');

const API_PREFIX = '/2018-06-01/runtime';
const ERROR_TYPE_HEADER = 'Lambda-Runtime-Function-Error-Type';

/* ------------------------------------------------------------------------ */
/* Errors with the names the AWS runtime reports                            */

function runtimeErrorClass(name) {
  const cls = class extends Error {};
  Object.defineProperty(cls.prototype, 'name', {
    value: `Runtime.${name}`,
    writable: true,
    configurable: true,
  });
  return cls;
}

const ImportModuleError = runtimeErrorClass('ImportModuleError');
const HandlerNotFound = runtimeErrorClass('HandlerNotFound');
const MalformedHandlerName = runtimeErrorClass('MalformedHandlerName');
const UserCodeSyntaxError = runtimeErrorClass('UserCodeSyntaxError');
const UnhandledPromiseRejection = runtimeErrorClass('UnhandledPromiseRejection');
const NodeJsExit = runtimeErrorClass('NodeJsExit');

const NODE_JS_EXIT_MESSAGE =
  'The Lambda runtime client detected an unexpected Node.js exit code. This is most ' +
  'commonly caused by a Promise that was never settled. For more information, see ' +
  'https://nodejs.org/docs/latest/api/process.html#exit-codes';

function isErrorLike(value) {
  return (
    util.types.isNativeError(value) ||
    (value &&
      typeof value.name === 'string' && value.name &&
      typeof value.message === 'string' && value.message &&
      typeof value.stack === 'string' && value.stack)
  );
}

/**
 * The body of an error report, as AWS builds it: errorType, errorMessage
 * and the stack as "trace"; a thrown non-Error is reported by its type.
 */
function errorBody(error) {
  try {
    if (isErrorLike(error)) {
      return {
        errorType: error.name,
        errorMessage: error.message,
        trace: typeof error.stack === 'string' ? error.stack.split('\n') : [],
      };
    }
    return { errorType: typeof error, errorMessage: error.toString(), trace: [] };
  } catch (_) {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving ' +
        'one or more of its message, name, and stack',
    };
  }
}

/** An error for the log: its own fields plus type, message and stack. */
function formatErrorForLog(error) {
  const err = error instanceof Error ? error : new Error(error);
  const replacer = (_key, value) => {
    if (!(value instanceof Error)) return value;
    const out = Object.assign(
      { errorType: value.name, errorMessage: value.message, code: value.code },
      value,
    );
    if (typeof value.stack === 'string') out.stack = value.stack.split('\n');
    return out;
  };
  try {
    return '\t' + JSON.stringify(err, replacer);
  } catch (_) {
    return '\t' + JSON.stringify(errorBody(err));
  }
}

/* ------------------------------------------------------------------------ */
/* Logging                                                                  */

// The request being handled, where AWS keeps it (libraries read it there);
// undefined, and so logged as "undefined", before the first invocation.
const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');

const LEVELS = { TRACE: 1, DEBUG: 2, INFO: 3, WARN: 4, ERROR: 5, FATAL: 6 };

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes all of text to fd synchronously. fd may have been made
 * non-blocking (by user code using process.stdout), so EAGAIN waits a
 * little and retries. Output that cannot be written is dropped: logging
 * never fails an invocation.
 */
function writeAll(fd, text) {
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      if (e.code === 'EAGAIN') {
        Atomics.wait(pause, 0, 0, 1);
        continue;
      }
      return;
    }
  }
}

/** Writes one log record; its newlines become "\r" so it stays one line. */
function logLine(level, message, params) {
  const text = util.format(message, ...params);
  const line = `${new Date().toISOString()}\t${globalThis[REQUEST_ID]}\t${level}\t${text}`;
  writeAll(1, line.replace(/\n/g, '\r') + '\n');
}

/** Replaces console's logging methods with AWS-formatted ones. */
function patchConsole() {
  const minimum = LEVELS[(process.env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()] || LEVELS.TRACE;
  const method = (level) =>
    LEVELS[level] >= minimum
      ? (message, ...params) => logLine(level, message, params)
      : () => {};
  console.trace = method('TRACE');
  console.debug = method('DEBUG');
  console.info = method('INFO');
  console.log = console.info;
  console.warn = method('WARN');
  console.error = method('ERROR');
  console.fatal = (message, ...params) => logLine('FATAL', message, params);
}

/** Logs an error as AWS does, e.g. "Invoke Error \t{...}". */
function logError(label, error) {
  logLine('ERROR', label, [formatErrorForLog(error)]);
}

function fatal(message) {
  writeAll(2, `bootstrap: fatal: ${message}\n`);
  process.exit(1);
}

/* ------------------------------------------------------------------------ */
/* Runtime API client                                                       */

class RuntimeAPIClient {
  constructor(address) {
    const i = address.lastIndexOf(':');
    if (i < 0) throw new Error(`bad AWS_LAMBDA_RUNTIME_API: ${address}`);
    this.hostname = address.slice(0, i).replace(/^\[(.*)\]$/, '$1');
    this.port = parseInt(address.slice(i + 1), 10);
    // One keep-alive connection. Idle sockets of a keepAlive agent are
    // unref'd, so they do not keep the event loop from emptying.
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  /** Sends a request; resolves to { status, headers, body: Buffer }. */
  request(method, urlPath, body, headers) {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          hostname: this.hostname,
          port: this.port,
          path: urlPath,
          method,
          headers,
          agent: this.agent,
        },
        (res) => {
          const chunks = [];
          res.on('data', (chunk) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  async nextInvocation() {
    const res = await this.request('GET', `${API_PREFIX}/invocation/next`);
    if (res.status !== 200) {
      throw new Error(`GET /invocation/next returned HTTP ${res.status}: ${res.body.toString().slice(0, 1024)}`);
    }
    return res;
  }

  async post(urlPath, body, headers) {
    const buf = Buffer.from(body, 'utf8');
    const res = await this.request(
      'POST',
      urlPath,
      buf,
      Object.assign({ 'Content-Type': 'application/json', 'Content-Length': buf.length }, headers),
    );
    if (res.status < 200 || res.status > 299) {
      // The platform refused the result (too large, unknown request, ...)
      // and records the failure itself; the runtime goes on.
      writeAll(2, `bootstrap: POST ${urlPath} returned HTTP ${res.status}: ${res.body.toString().slice(0, 1024)}\n`);
    }
  }

  postResponse(id, body) {
    return this.post(`${API_PREFIX}/invocation/${encodeURIComponent(id)}/response`, body);
  }

  postError(id, error) {
    return this.post(`${API_PREFIX}/invocation/${encodeURIComponent(id)}/error`, JSON.stringify(errorBody(error)), {
      [ERROR_TYPE_HEADER]: 'Unhandled',
    });
  }

  postInitError(error) {
    const body = errorBody(error);
    return this.post(`${API_PREFIX}/init/error`, JSON.stringify(body), {
      [ERROR_TYPE_HEADER]: body.errorType,
    });
  }
}

/* ------------------------------------------------------------------------ */
/* Loading the handler                                                      */

/**
 * Makes layers' packages (/opt/nodejs/...) resolvable by require() from
 * anywhere, as AWS's NODE_PATH does; a NODE_PATH set by the host is kept.
 */
function setupNodePath(taskRoot) {
  if (process.env.NODE_PATH) return;
  const major = process.versions.node.split('.')[0];
  process.env.NODE_PATH = [
    `/opt/nodejs/node${major}/node_modules`,
    '/opt/nodejs/node_modules',
    '/var/runtime/node_modules',
    '/var/runtime',
    taskRoot,
  ].join(':');
  require('module').Module._initPaths();
}

/** Whether the package.json nearest to dir says "type": "module". */
function inModulePackage(dir) {
  for (;;) {
    if (dir.endsWith('/node_modules')) return false;
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        return JSON.parse(fs.readFileSync(pj, 'utf8')).type === 'module';
      } catch (e) {
        console.warn(`${pj} cannot be read, it will be ignored for ES module detection purposes.`, e);
        return false;
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return false;
    dir = parent;
  }
}

function importFile(file) {
  return import(pathToFileURL(file).href);
}

/**
 * require()s file, falling back to import() for an ES module that require
 * refuses.
 */
async function requireFile(file) {
  try {
    return require(file);
  } catch (e) {
    if (e && (e.code === 'ERR_REQUIRE_ESM' || e.code === 'ERR_REQUIRE_ASYNC_MODULE')) {
      return importFile(file);
    }
    throw e;
  }
}

/**
 * Loads the module `name` of the handler, trying the candidates in AWS's
 * order: the path itself (a file or a directory/package), .js (required, or
 * imported under "type": "module"), .mjs, .cjs, and last a package
 * resolved from the task root (its node_modules, then NODE_PATH).
 */
async function loadModule(taskRoot, moduleRoot, name) {
  const base = path.resolve(taskRoot, moduleRoot, name);
  if (fs.existsSync(base)) return requireFile(base);
  const esm = inModulePackage(path.dirname(base));
  if (fs.existsSync(base + '.js')) return esm ? importFile(base + '.js') : requireFile(base + '.js');
  if (fs.existsSync(base + '.mjs')) return importFile(base + '.mjs');
  if (fs.existsSync(base + '.cjs')) return requireFile(base + '.cjs');
  const resolved = require.resolve(name, { paths: [taskRoot, path.join(taskRoot, moduleRoot)] });
  return requireFile(resolved);
}

/** Loads the handler named by handlerString, or throws a Runtime.* error. */
async function loadHandler(taskRoot, handlerString) {
  if (handlerString.includes('..')) {
    throw new MalformedHandlerName(
      `'${handlerString}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  // "src/app.handler" -> module root "src/", "app.handler".
  const moduleAndFunction = path.basename(handlerString);
  const moduleRoot = handlerString.slice(0, handlerString.indexOf(moduleAndFunction));
  const match = moduleAndFunction.match(/^([^.]*)\.(.*)$/);
  if (!match) throw new MalformedHandlerName('Bad handler');
  const [, moduleName, functionPath] = match;

  let userModule;
  try {
    userModule = await loadModule(taskRoot, moduleRoot, moduleName);
  } catch (e) {
    if (e instanceof SyntaxError) {
      const err = new UserCodeSyntaxError(String(e));
      err.stack = e.stack;
      throw err;
    }
    if (e && e.code === 'MODULE_NOT_FOUND') throw new ImportModuleError(String(e));
    throw e;
  }

  const fn = functionPath.split('.').reduce((obj, key) => obj && obj[key], userModule);
  if (!fn) throw new HandlerNotFound(`${handlerString} is undefined or not exported`);
  if (typeof fn !== 'function') throw new HandlerNotFound(`${handlerString} is not a function`);
  return fn;
}

/* ------------------------------------------------------------------------ */
/* The invocation loop                                                      */

/**
 * Runs the function's invocations, one at a time, each started by
 * scheduleNext() once the previous one has been reported.
 */
class Runtime {
  constructor(client, handler) {
    this.client = client;
    this.handler = handler;
    this.isAsync = handler.constructor && handler.constructor.name === 'AsyncFunction';
    this.current = null; // the invocation being handled, until reported
    this.onEmptyLoop = null; // what to do when the event loop empties

    process.on('beforeExit', () => {
      const action = this.onEmptyLoop;
      this.onEmptyLoop = null;
      if (action) action();
    });
  }

  scheduleNext() {
    setImmediate(() => {
      this.runOnce().catch((e) => fatal(`Runtime API: ${e && e.stack ? e.stack : e}`));
    });
  }

  async runOnce() {
    const { headers, body } = await this.client.nextInvocation();
    const id = headers['lambda-runtime-aws-request-id'];
    if (!id) throw new Error('the invocation has no Lambda-Runtime-Aws-Request-Id header');
    globalThis[REQUEST_ID] = id;
    const trace = headers['lambda-runtime-trace-id'];
    if (trace) process.env._X_AMZN_TRACE_ID = trace;
    else delete process.env._X_AMZN_TRACE_ID;

    const inv = new Invocation(this, id);
    this.current = inv;
    // If the handler neither returns a promise nor calls back, the
    // invocation ends when nothing is left to do: with null for a plain
    // function, with an error for an async one whose promise never settled.
    this.onEmptyLoop = () => {
      if (this.isAsync) {
        const err = new NodeJsExit(NODE_JS_EXIT_MESSAGE);
        logError('Invoke Error', err);
        inv.report(() => this.client.postError(id, err));
      } else {
        inv.report(() => this.client.postResponse(id, 'null'));
      }
    };

    try {
      const context = inv.buildContext(headers);
      const result = this.handler(JSON.parse(body.toString('utf8')), context, inv.callback);
      if (result && typeof result.then === 'function') {
        result.then(inv.succeed, inv.fail).then(undefined, inv.fail);
      }
    } catch (err) {
      inv.callback(err);
    }
  }
}

/** One invocation: its callback, context and how it is reported. */
class Invocation {
  constructor(runtime, id) {
    this.runtime = runtime;
    this.id = id;
    this.reported = false;
    this.waitForEmptyLoop = true;
    // callback, succeed, fail and done: only the first call counts.
    let finished = false;
    const once = (fn) => (...args) => {
      if (finished) return;
      fn(...args);
      finished = true;
    };
    this.callback = once((err, result) => this.onCallback(err, result));
    this.done = once((err, result) => this.onDone(err, result));
    this.succeed = once((result) => this.onDone(null, result));
    this.fail = once((err) => this.onDone(err === undefined || err === null ? 'handled' : err, null));
  }

  /** Posts a result unless the invocation was already reported. */
  report(post) {
    if (this.reported) {
      console.error('Invocation has already been reported as done. Cannot call complete more than once per invocation.');
      return;
    }
    this.reported = true;
    if (this.runtime.current === this) this.runtime.current = null;
    post().then(
      () => this.runtime.scheduleNext(),
      (e) => fatal(`Runtime API: ${e && e.stack ? e.stack : e}`),
    );
  }

  postError(err) {
    logError('Invoke Error', err);
    this.report(() => this.runtime.client.postError(this.id, err));
  }

  complete(result) {
    let body;
    try {
      body = JSON.stringify(result === undefined ? null : result);
    } catch (_) {
      this.postError(new Error('Unable to stringify response body'));
      return;
    }
    if (body === undefined) body = 'null'; // e.g. a function
    this.report(() => this.runtime.client.postResponse(this.id, body));
  }

  onCallback(err, result) {
    this.runtime.onEmptyLoop = null;
    if (err !== undefined && err !== null) {
      this.postError(err);
    } else if (!this.waitForEmptyLoop) {
      this.complete(result);
    } else {
      // As on AWS: the result is posted once the event loop has emptied.
      this.runtime.onEmptyLoop = () => setImmediate(() => this.complete(result));
    }
  }

  onDone(err, result) {
    this.runtime.onEmptyLoop = null;
    if (err !== undefined && err !== null) this.postError(err);
    else this.complete(result);
  }

  buildContext(headers) {
    const inv = this;
    const deadline = Number(headers['lambda-runtime-deadline-ms']);
    const env = process.env;
    return {
      get callbackWaitsForEmptyEventLoop() {
        return inv.waitForEmptyLoop;
      },
      set callbackWaitsForEmptyEventLoop(value) {
        inv.waitForEmptyLoop = value;
      },
      succeed: this.succeed,
      fail: this.fail,
      done: this.done,
      functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
      functionName: env.AWS_LAMBDA_FUNCTION_NAME,
      memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
      clientContext: parseJsonHeader(headers['lambda-runtime-client-context'], 'ClientContext'),
      identity: parseJsonHeader(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
      invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
      awsRequestId: this.id,
      tenantId: headers['lambda-runtime-aws-tenant-id'],
      getRemainingTimeInMillis() {
        return deadline - Date.now();
      },
    };
  }
}

function parseJsonHeader(value, name) {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

/* ------------------------------------------------------------------------ */
/* Start-up                                                                 */

async function main() {
  const address = process.env.AWS_LAMBDA_RUNTIME_API;
  if (!address) fatal('AWS_LAMBDA_RUNTIME_API is not set');
  patchConsole();
  const client = new RuntimeAPIClient(address);
  const taskRoot = process.env.LAMBDA_TASK_ROOT || '/var/task';
  setupNodePath(taskRoot);

  let runtime = null;

  // An error the user's code leaves uncaught fails the invocation being
  // handled (and ends the process, as on AWS); before the first invocation
  // it is an init error.
  const onUncaught = (label, error, exitCode) => {
    logError(label, error);
    const inv = runtime && runtime.current;
    const post = runtime
      ? inv
        ? client.postError(inv.id, error)
        : Promise.resolve()
      : client.postInitError(error);
    const code = runtime ? exitCode : 1;
    post.then(
      () => process.exit(code),
      () => process.exit(code),
    );
  };
  process.on('uncaughtException', (error) => onUncaught('Uncaught Exception', error, 129));
  process.on('unhandledRejection', (reason) => {
    const reasonText = reason === undefined || reason === null ? reason : reason.toString();
    onUncaught('Unhandled Promise Rejection', new UnhandledPromiseRejection(reasonText), 128);
  });

  let handler;
  try {
    handler = await loadHandler(taskRoot, process.env._HANDLER || '');
  } catch (error) {
    logError('Uncaught Exception', error);
    try {
      await client.postInitError(error);
    } catch (e) {
      fatal(`Runtime API: ${e && e.message ? e.message : e}`);
    }
    process.exit(1);
  }

  runtime = new Runtime(client, handler);
  runtime.scheduleNext();
}

main().catch((e) => fatal(e && e.stack ? e.stack : String(e)));
