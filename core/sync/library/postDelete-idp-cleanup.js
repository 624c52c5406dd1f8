/*
 * sfsync's postDelete-idp-cleanup library (conf/managed.json's postDelete hook requires it), written from IDM's
 * documented behaviour: when a user is deleted, IDM deletes the identity-provider data objects
 * (managed/<provider>/<subject>) the user's idpData names. sfsync has no social identity providers and no such
 * managed objects, so there is nothing to clean up; a user that carries idpData is logged.
 */
exports.removeConnectedIdpData = function (oldObject, resourceName, request) {
    if (oldObject && oldObject.idpData) {
        logger.info("postDelete-idp-cleanup: {} had idpData for {}; sfsync keeps no identity provider data",
                    resourceName, Object.keys(oldObject.idpData).join(", "));
    }
};
