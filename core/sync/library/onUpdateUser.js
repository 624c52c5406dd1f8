/*
 * sfsync's onUpdateUser library (what conf/managed.json's onUpdate hook requires), written from IDM's
 * documented behaviour. A project's own script/onUpdateUser.js is found first and replaces this one.
 */
exports.preserveLastSync = function (object, oldObject, request) {
    // a full replace (an update, not a patch) that leaves out lastSync keeps the stored value
    if (request && request.method === "update" && object.lastSync === undefined
            && oldObject && oldObject.lastSync) {
        object.lastSync = oldObject.lastSync;
    }
};
