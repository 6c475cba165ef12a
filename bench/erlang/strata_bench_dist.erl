%% bench_nodes' cross-process suites (bench/nodes/main.cpp) over Erlang distribution: two
%% Erlang nodes, two OS processes on this host, connected over loopback TCP. The same work,
%% the same checks, the same JSON lines, with system "erlang".
%%
%%   erl -noshell -nocookie -pa DIR -s strata_bench_dist main ROUND_TRIPS MESSAGES
%%
%% This node makes itself distributed (a unique name: its OS pid and a random number, so runs
%% never collide, and a random cookie; `-nocookie` keeps it from reading or creating
%% ~/.erlang.cookie), starts epmd if none answers (`epmd -daemon`, as `erl -sname` does; an
%% epmd already running is reused and left running), starts a second node with OTP's `peer`
%% module (a separate `erl`, connected back over distribution), and spawns the target there.
%% - round trip: ROUND_TRIPS requests {add, 1, 2} in sequence, each answered 3; the median.
%% - one way: MESSAGES integers sent as fast as the sender can (distribution suspends it
%%   while the connection's buffer is full), then a count the target answers once it has
%%   them all. Messages per second.
%% A wrong result halts with status 3 (WRONG RESULT), a failure or a timeout with status 2.
-module(strata_bench_dist).
-export([main/1, target/2]).

%% bench_nodes' limits: a request that takes 10 s, or a count 120 s, has failed.
-define(REQUEST_TIMEOUT, 10000).
-define(COUNT_TIMEOUT, 120000).
%% Ours: the peer's boot, epmd's start, and each of setup and teardown as a whole.
-define(BOOT_TIMEOUT, 30000).
-define(EPMD_TIMEOUT, 5000).
-define(SETUP_TIMEOUT, 60000).
-define(LOOPBACK, {127, 0, 0, 1}).

main([RoundTripsText, MessagesText]) ->
    try
        RoundTrips = list_to_integer(atom_to_list(RoundTripsText)),
        Messages = list_to_integer(atom_to_list(MessagesText)),
        RoundTrips > 0 andalso Messages > 0 orelse main(usage),
        run(RoundTrips, Messages)
    catch
        throw:{halt, Status} -> halt(Status);
        Class:Reason:Stack ->
            % Caught here: an exception out of `-s` would end in a crash dump.
            io:format(standard_error, "strata_bench_dist: ~p:~p~n~p~n", [Class, Reason, Stack]),
            halt(2)
    end,
    halt(0);
main(_) ->
    io:format(standard_error,
              "usage: erl -noshell -nocookie -pa DIR -s strata_bench_dist main "
              "ROUND_TRIPS MESSAGES~n", []),
    halt(2).

run(RoundTrips, Messages) ->
    Suffix = os:getpid() ++ "_" ++ integer_to_list(rand:uniform(1 bsl 30)),
    {Peer, Node} = guard(?SETUP_TIMEOUT, "starting the two nodes",
                         fun() ->
                                 start_distribution("strata_bench_a_" ++ Suffix),
                                 start_peer("strata_bench_b_" ++ Suffix)
                         end),
    {TargetPid, Monitor} =
        spawn_opt(Node, ?MODULE, target, [0, none],
                  % Off-heap: the one-way flood queues up there faster than it is counted.
                  [monitor, {message_queue_data, off_heap}]),
    Samples = [request(TargetPid, Monitor) || _ <- lists:seq(1, RoundTrips)],
    emit("round-trip", "request round trip", "us", median(Samples), lower),
    Start = now_us(),
    Self = self(),
    spawn(fun() ->
                  flood(TargetPid, Messages),
                  TargetPid ! {count, Self, Messages}
          end),
    Got = receive
              {counted, N} -> N;
              {'DOWN', Monitor, process, _, Why} -> fail("the target went down: ~p", [Why])
          after ?COUNT_TIMEOUT ->
                  fail("no count within ~b s", [?COUNT_TIMEOUT div 1000])
          end,
    Us = now_us() - Start,
    expect(Got =:= Messages, "one way: the target counted ~b of ~b", [Got, Messages]),
    emit("one-way", "messages per second", "M/s", Messages / Us, higher),
    erlang:demonitor(Monitor, [flush]),
    guard(?SETUP_TIMEOUT, "stopping the peer node", fun() -> peer:stop(Peer) end).

%% Runs Fun, and halts with status 2 if it has not returned within Ms: the calls it makes
%% (epmd's protocol, peer's start and stop) have no timeout of their own that covers them
%% all, and an epmd that accepts but never answers would hold them forever.
guard(Ms, What, Fun) ->
    Watchdog = spawn(fun() ->
                             receive done -> ok
                             after Ms ->
                                     io:format(standard_error,
                                               "strata_bench_dist: ~s took over ~b s~n",
                                               [What, Ms div 1000]),
                                     halt(2)
                             end
                     end),
    Result = Fun(),
    Watchdog ! done,
    Result.

%% Distribution on loopback only, under a fresh name and cookie.
start_distribution(Name) ->
    ensure_epmd(),
    ok = application:set_env(kernel, inet_dist_use_interface, ?LOOPBACK),
    case net_kernel:start(list_to_atom(Name ++ "@localhost"), #{name_domain => shortnames}) of
        {ok, _} -> ok;
        {error, Reason} -> fail("cannot start distribution as ~s: ~p", [Name, Reason])
    end,
    erlang:set_cookie(list_to_atom("strata_bench_" ++ integer_to_list(rand:uniform(1 bsl 60)))).

%% `erl -sname` starts epmd before the VM; a node made distributed at run time has to.
ensure_epmd() ->
    case erl_epmd:names("localhost") of
        {ok, _} -> ok;
        {error, _} ->
            Bin = filename:join([code:root_dir(), "erts-" ++ erlang:system_info(version), "bin"]),
            Epmd = case os:find_executable("epmd", Bin) of
                       false -> os:find_executable("epmd");
                       Path -> Path
                   end,
            Epmd =/= false orelse fail("epmd not found", []),
            % An epmd that cannot bind (another one came first) exits; either way one answers.
            _ = os:cmd(Epmd ++ " -address 127.0.0.1 -daemon"),
            wait_epmd(now_us() + ?EPMD_TIMEOUT * 1000)
    end.

%% epmd -daemon returns before the daemon listens: wait until it answers.
wait_epmd(Deadline) ->
    case erl_epmd:names("localhost") of
        {ok, _} -> ok;
        {error, Reason} ->
            now_us() < Deadline
                orelse fail("epmd did not answer within ~b s: ~p",
                            [?EPMD_TIMEOUT div 1000, Reason]),
            timer:sleep(20),
            wait_epmd(Deadline)
    end.

%% The second node: its own `erl`, on loopback, with this module on its code path. Not linked:
%% its failure shows as the target's 'DOWN'. It halts when this node goes away.
start_peer(Name) ->
    Dir = filename:absname(filename:dirname(code:which(?MODULE))),
    Options = #{name => Name, host => "localhost", wait_boot => ?BOOT_TIMEOUT,
                args => ["-setcookie", atom_to_list(erlang:get_cookie()),
                         "-kernel", "inet_dist_use_interface", "{127,0,0,1}",
                         "-pa", Dir]},
    case catch peer:start(Options) of
        {ok, Peer, Node} -> {Peer, Node};
        Other -> fail("cannot start the peer node ~s: ~p", [Name, Other])
    end.

%% The remote side: answers {add, A, B}, counts integers, and answers {count, From, N} once
%% it has N.
target(Received, Waiting) ->
    receive
        X when is_integer(X) ->
            case Waiting of
                {From, Expected} when Received + 1 >= Expected ->
                    From ! {counted, Received + 1},
                    target(Received + 1, none);
                _ -> target(Received + 1, Waiting)
            end;
        {add, From, A, B} ->
            From ! {sum, A + B},
            target(Received, Waiting);
        {count, From, Expected} when Received >= Expected ->
            From ! {counted, Received},
            target(Received, none);
        {count, From, Expected} ->
            target(Received, {From, Expected})
    end.

%% One request, its time in microseconds.
request(Target, Monitor) ->
    Start = erlang:monotonic_time(nanosecond),
    Target ! {add, self(), 1, 2},
    receive
        {sum, Sum} ->
            Us = (erlang:monotonic_time(nanosecond) - Start) / 1000,
            expect(Sum =:= 3, "round trip: (add, 1, 2) answered ~p", [Sum]),
            Us;
        {'DOWN', Monitor, process, _, Why} -> fail("the target went down: ~p", [Why])
    after ?REQUEST_TIMEOUT ->
            fail("no answer to a request within ~b s", [?REQUEST_TIMEOUT div 1000])
    end.

flood(_, 0) -> ok;
flood(Target, N) -> Target ! N, flood(Target, N - 1).

%% bench_nodes' median: the middle of the sorted samples (the upper one of an even count).
median(Xs) -> lists:nth(length(Xs) div 2 + 1, lists:sort(Xs)).

now_us() -> erlang:monotonic_time(microsecond).

expect(true, _, _) -> ok;
expect(false, Format, Args) ->
    io:format(standard_error, "WRONG RESULT: " ++ Format ++ "~n", Args),
    throw({halt, 3}).

fail(Format, Args) ->
    io:format(standard_error, "strata_bench_dist: " ++ Format ++ "~n", Args),
    throw({halt, 2}).

emit(Suite, Metric, Unit, Value, Better) ->
    io:format("{\"suite\":\"~s\",\"system\":\"erlang\",\"metric\":\"~s\",\"unit\":\"~s\","
              "\"value\":~.6g,\"n\":0,\"better\":\"~s\"}~n",
              [Suite, Metric, Unit, float(Value), Better]).
