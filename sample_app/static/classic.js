// The classic chat page: Azure's AspNet.ChatSample client code, plus groups, errors and the state.
// ?transport=webSockets|serverSentEvents|longPolling picks a transport (default: the client's choice).
/* global $ */
"use strict";

$(function () {
  var chat = $.connection.chatHub;
  var states = ["connecting", "connected", "reconnecting", "", "disconnected"];
  var joined = [];

  function show(kind, text) {
    $("<li>").addClass(kind).text(text).appendTo("#messages");
  }

  function setStatus(state) {
    $("#status").text(state).attr("data-state", state);
  }

  function name() {
    return $.trim($("#name").val()) || "anonymous";
  }

  function failed(error) {
    show("error", error.message);
  }

  chat.client.broadcastMessage = function (sender, message) {
    show("broadcast", sender + ": " + message);
  };
  chat.client.echo = function (message) {
    show("echo", "echo: " + message);
  };
  chat.client.groupMessage = function (group, sender, message) {
    show("group", "[" + group + "] " + sender + ": " + message);
  };

  $.connection.hub.stateChanged(function (change) {
    setStatus(states[change.newState] || "disconnected");
  });
  $.connection.hub.reconnected(function () {
    $("#reconnects").text(Number($("#reconnects").text()) + 1);
  });
  $.connection.hub.error(function (error) {
    if ($.connection.hub.state === $.signalR.connectionState.disconnected) {
      failed(error);
    }
  });

  var transport = new URLSearchParams(window.location.search).get("transport") || "auto";
  $.connection.hub.start({ transport: transport }).done(function () {
    $("#transport").text($.connection.hub.transport.name);
    $("#me").text($.connection.hub.id);
    setStatus("connected");
  }).fail(failed);

  $("#broadcast").click(function () {
    chat.server.broadcastMessage(name(), $("#message").val()).fail(failed);
  });
  $("#echo").click(function () {
    chat.server.echo($("#message").val()).fail(failed);
  });
  $("#fail").click(function () {
    chat.server.fail($("#message").val()).fail(failed);
  });
  $("#join").click(function () {
    var group = $.trim($("#group").val());
    chat.server.joinGroup(group).done(function () {
      joined.push(group);
      $("#joined").text(joined.join(", "));
    }).fail(failed);
  });
  $("#send-group").click(function () {
    chat.server.sendToGroup($.trim($("#group").val()), name(), $("#message").val()).fail(failed);
  });
});
