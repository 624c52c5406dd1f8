/*
 * sfsync's postDelete-notification-cleanup library (conf/managed.json's postDelete hook requires it), written
 * from IDM's documented behaviour: when a user is deleted, IDM deletes the user's notifications
 * (internal/notification objects named by _notifications). sfsync has no notification service, so there is
 * nothing to clean up; a user that carries _notifications is logged.
 */
exports.removeConnectedNotificationData = function (oldObject, resourceName, request) {
    if (oldObject && oldObject._notifications && oldObject._notifications.length) {
        logger.info("postDelete-notification-cleanup: {} had {} notifications; sfsync keeps none",
                    resourceName, oldObject._notifications.length);
    }
};
