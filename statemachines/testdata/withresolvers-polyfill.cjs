// Promise.withResolvers arrived in node 22; aws-local-stepfunctions 3.0.0
// uses it for every Task state. Preloaded (node --require) on node 20.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new this((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
